package bench

import (
	"fmt"
	"math"
)

// Default DynamoDB on-demand prices: us-east-1, after the on-demand price
// cut that took effect on 1 November 2024 (AWS "What's New", 14 November
// 2024, and the DynamoDB pricing page, on-demand capacity mode), in US
// dollars per million request units.
const (
	DefaultReadPrice  = 0.125
	DefaultWritePrice = 0.625
	DefaultPriceNote  = "AWS DynamoDB on-demand, us-east-1, Standard table class, prices as of November 2024"
)

// Prices are DynamoDB on-demand prices, used to estimate what a system's
// remote traffic costs.
type Prices struct {
	// ReadPerMillion is the price of one million read request units
	// (RRU), in USD. Default DefaultReadPrice.
	ReadPerMillion float64 `json:"read_usd_per_million_rru"`
	// WritePerMillion is the price of one million write request units
	// (WRU), in USD. Default DefaultWritePrice.
	WritePerMillion float64 `json:"write_usd_per_million_wru"`
	// Note says where the prices come from and as of when. Default
	// DefaultPriceNote.
	Note string `json:"note"`
}

// DefaultPrices are the us-east-1 on-demand prices as of November 2024.
func DefaultPrices() Prices {
	return Prices{ReadPerMillion: DefaultReadPrice, WritePerMillion: DefaultWritePrice, Note: DefaultPriceNote}
}

// Validate checks the prices are finite and not negative.
func (p Prices) Validate() error {
	for _, v := range []float64{p.ReadPerMillion, p.WritePerMillion} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bench: price %v per million request units: must be a finite number >= 0", v)
		}
	}
	return nil
}

// Sizes of the attributes of a session item, as DynamoDB counts them
// (attribute name plus value; a number takes one byte per two significant
// digits plus one).
const (
	itemOverheadKey     = len("pk")
	itemOverheadVersion = len("ver") + 4 // versions below 10^6
	itemOverheadExpires = len("exp") + 6 // epoch seconds, 10 digits
	itemOverheadData    = len("data")
	itemOverheadWriteID = len("wid") + 16
)

// ItemSize is the size DynamoDB bills for a session item whose storage key
// is keyLen bytes long and whose payload is dataLen bytes.
func ItemSize(keyLen, dataLen int) int {
	return itemOverheadKey + keyLen + itemOverheadVersion + itemOverheadExpires +
		itemOverheadData + dataLen + itemOverheadWriteID
}

// ReadUnits is the read request units one GetItem of an item of size
// bytes consumes: 1 RRU per started 4 KB for a strongly consistent read,
// half that for an eventually consistent one.
func ReadUnits(size int, consistent bool) float64 {
	units := float64(ceilDiv(max(size, 1), 4096))
	if consistent {
		return units
	}
	return units / 2
}

// WriteUnits is the write request units one write of an item of size
// bytes consumes: 1 WRU per started 1 KB. DynamoDB bills an update or a
// delete by the larger of the item before and after, and a conditional
// write that fails its condition by the item already stored (at least 1
// WRU, which is what a refused write of a missing item costs). All of a
// run's sessions have one size, so a write, failed or not, of an existing
// session costs WriteUnits of that size.
func WriteUnits(size int) float64 { return float64(ceilDiv(max(size, 1), 1024)) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// CostModel turns remote request counts into dollars.
type CostModel struct {
	// Prices are the prices per million request units.
	Prices Prices `json:"prices"`
	// ItemBytes is the billed size of one session item.
	ItemBytes int `json:"item_bytes"`
	// ConsistentRead tells whether reads are strongly consistent.
	ConsistentRead bool `json:"consistent_read"`
	// RRUPerRead is the read request units one read consumes.
	RRUPerRead float64 `json:"rru_per_read"`
	// RRUPerConsistentRead is the read request units one strongly
	// consistent read consumes (a tier's reload after a conflict).
	RRUPerConsistentRead float64 `json:"rru_per_consistent_read"`
	// WRUPerWrite is the write request units one write of a session
	// consumes, and one whose condition failed on the stored session.
	WRUPerWrite float64 `json:"wru_per_write"`
	// WRUPerAbsentWrite is the write request units of a conditional
	// write refused because the item does not exist: the minimum, 1.
	WRUPerAbsentWrite float64 `json:"wru_per_refused_absent_write"`
}

// NewCostModel returns the cost model for sessions with the given key
// length and payload size.
func NewCostModel(p Prices, keyLen, payload int, consistent bool) CostModel {
	size := ItemSize(keyLen, payload)
	return CostModel{
		Prices:               p,
		ItemBytes:            size,
		ConsistentRead:       consistent,
		RRUPerRead:           ReadUnits(size, consistent),
		RRUPerConsistentRead: ReadUnits(size, true),
		WRUPerWrite:          WriteUnits(size),
		WRUPerAbsentWrite:    WriteUnits(0),
	}
}

// Bill is the DynamoDB traffic of a million operations, in request units
// and in dollars; ReadUSD + WriteUSD is the whole.
type Bill struct {
	// RRU and WRU are the request units a million operations consume.
	RRU float64 `json:"rru_per_million_ops"`
	WRU float64 `json:"wru_per_million_ops"`
	// ReadUSD and WriteUSD are their price.
	ReadUSD  float64 `json:"read_usd_per_million_ops"`
	WriteUSD float64 `json:"write_usd_per_million_ops"`
}

// USD is the whole bill.
func (b Bill) USD() float64 { return b.ReadUSD + b.WriteUSD }

// Bill prices the remote requests rc counted over ops operations, as
// DynamoDB bills them: every read, every write sent whether its condition
// held or not (a refused write of an existing session costs as much as a
// successful one; of a missing one, 1 WRU), reloads at the strongly
// consistent rate. Counts from a NewSizingMeter (rc.Sized) are billed by
// the units it measured, item by item, instead of c's one item size. It is
// the zero Bill when ops is 0.
func (c CostModel) Bill(rc RemoteCounts, ops int64) Bill {
	if ops <= 0 {
		return Bill{}
	}
	perMillion := 1e6 / float64(ops)
	rru := (float64(rc.Reads)*c.RRUPerRead + float64(rc.ConsistentReads)*c.RRUPerConsistentRead) * perMillion
	wru := (float64(rc.Writes-rc.Absent)*c.WRUPerWrite + float64(rc.Absent)*c.WRUPerAbsentWrite) * perMillion
	if rc.Sized {
		// Measured item by item (NewSizingMeter), not one size for all.
		rru, wru = rc.ReadUnits*perMillion, rc.WriteUnits*perMillion
	}
	return Bill{
		RRU: rru, WRU: wru,
		ReadUSD:  rru * c.Prices.ReadPerMillion / 1e6,
		WriteUSD: wru * c.Prices.WritePerMillion / 1e6,
	}
}

// PerMillionOps is the estimated DynamoDB bill, in USD, of one million
// operations that made reads remote reads and writes remote writes (of
// existing sessions) per ops operations. It is 0 when ops is 0. Bill
// tells reloads and refused writes of missing sessions apart.
func (c CostModel) PerMillionOps(reads, writes, ops int64) float64 {
	return c.Bill(RemoteCounts{Reads: reads, Writes: writes}, ops).USD()
}
