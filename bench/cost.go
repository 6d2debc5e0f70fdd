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
// bytes consumes: 1 WRU per started 1 KB. DynamoDB charges a conditional
// write that fails its condition the same, and an update or delete by the
// larger of the item before and after, which for a session is the same
// size.
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
	// WRUPerWrite is the write request units one write consumes.
	WRUPerWrite float64 `json:"wru_per_write"`
}

// NewCostModel returns the cost model for sessions with the given key
// length and payload size.
func NewCostModel(p Prices, keyLen, payload int, consistent bool) CostModel {
	size := ItemSize(keyLen, payload)
	return CostModel{
		Prices:         p,
		ItemBytes:      size,
		ConsistentRead: consistent,
		RRUPerRead:     ReadUnits(size, consistent),
		WRUPerWrite:    WriteUnits(size),
	}
}

// PerMillionOps is the estimated DynamoDB bill, in USD, of one million
// operations that made reads remote reads and writes remote writes per ops
// operations. It is 0 when ops is 0.
func (c CostModel) PerMillionOps(reads, writes, ops int64) float64 {
	if ops <= 0 {
		return 0
	}
	// Prices are per million units, so the cost of a million operations
	// is units-per-operation times the price.
	rru := float64(reads) * c.RRUPerRead / float64(ops)
	wru := float64(writes) * c.WRUPerWrite / float64(ops)
	return rru*c.Prices.ReadPerMillion + wru*c.Prices.WritePerMillion
}
