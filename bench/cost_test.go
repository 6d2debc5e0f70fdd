package bench

import (
	"math"
	"testing"
)

func TestRequestUnits(t *testing.T) {
	tests := []struct {
		name       string
		size       int
		consistent bool
		rru, wru   float64
	}{
		{"tiny item", 1, false, 0.5, 1},
		{"exactly 1 KB", 1024, false, 0.5, 1},
		{"just over 1 KB", 1025, false, 0.5, 2},
		{"default session", ItemSize(43, 1024), false, 0.5, 2},
		{"exactly 4 KB", 4096, false, 0.5, 4},
		{"just over 4 KB", 4097, false, 1, 5},
		{"just over 4 KB, consistent", 4097, true, 2, 5},
		{"400 KB, consistent", 400 * 1024, true, 100, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReadUnits(tc.size, tc.consistent); got != tc.rru {
				t.Errorf("ReadUnits(%d, %v) = %v, want %v", tc.size, tc.consistent, got, tc.rru)
			}
			if got := WriteUnits(tc.size); got != tc.wru {
				t.Errorf("WriteUnits(%d) = %v, want %v", tc.size, got, tc.wru)
			}
		})
	}
}

func TestItemSize(t *testing.T) {
	// pk + 43-byte key, ver + 4, exp + 6, data + payload, wid + 16.
	if got, want := ItemSize(43, 1024), 2+43+3+4+3+6+4+1024+3+16; got != want {
		t.Errorf("ItemSize(43, 1024) = %d, want %d", got, want)
	}
	if ItemSize(43, 2000)-ItemSize(43, 1000) != 1000 {
		t.Error("ItemSize does not grow byte for byte with the payload")
	}
}

func TestCostPerMillionOps(t *testing.T) {
	prices := DefaultPrices()
	tests := []struct {
		name               string
		payload            int
		consistent         bool
		reads, writes, ops int64
		want               float64
	}{
		// Remote only, YCSB B: every op reads (0.5 RRU), 5% write
		// (2 WRU for a 1 KB payload, whose item is just over 1 KB):
		// 0.5*0.125 + 0.05*2*0.625 = 0.0625 + 0.0625.
		{"remote only B", 1024, false, 1000, 50, 1000, 0.125},
		// A quarter of the reads: 0.25*0.5*0.125 + 0.0625.
		{"tiered B", 1024, false, 250, 50, 1000, 0.078125},
		// Read-only, strongly consistent: 1 RRU per read.
		{"consistent C", 1024, true, 1000, 0, 1000, 0.125},
		// A small payload fits one WRU: 0.5*0.125 + 0.5*1*0.625.
		{"small A", 100, false, 1000, 500, 1000, 0.375},
		{"no operations", 1024, false, 10, 10, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewCostModel(prices, 43, tc.payload, tc.consistent)
			if got := m.PerMillionOps(tc.reads, tc.writes, tc.ops); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("PerMillionOps(%d, %d, %d) = %v, want %v", tc.reads, tc.writes, tc.ops, got, tc.want)
			}
		})
	}
	// Prices scale the bill linearly.
	double := prices
	double.ReadPerMillion, double.WritePerMillion = 2*prices.ReadPerMillion, 2*prices.WritePerMillion
	if got := NewCostModel(double, 43, 1024, false).PerMillionOps(1000, 50, 1000); math.Abs(got-0.25) > 1e-12 {
		t.Errorf("doubled prices: %v, want 0.25", got)
	}
}

func TestPricesValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Prices
		ok   bool
	}{
		{"defaults", DefaultPrices(), true},
		{"free", Prices{}, true},
		{"negative read", Prices{ReadPerMillion: -1}, false},
		{"NaN write", Prices{WritePerMillion: math.NaN()}, false},
		{"infinite read", Prices{ReadPerMillion: math.Inf(1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if p := DefaultPrices(); p.ReadPerMillion != 0.125 || p.WritePerMillion != 0.625 || p.Note == "" {
		t.Errorf("DefaultPrices() = %+v, want $0.125/M RRU and $0.625/M WRU with a dated note", p)
	}
}

func TestBillRefusedWrites(t *testing.T) {
	m := NewCostModel(DefaultPrices(), 43, 1024, false)
	tests := []struct {
		name     string
		counts   RemoteCounts
		rru, wru float64 // per million ops, over 1000 ops
	}{
		// A refused write of a stored session costs as much as one that
		// went through: 2 WRU for a 1 KB session.
		{"conflicts", RemoteCounts{Reads: 1000, Writes: 50, Conflicts: 10}, 1000 * 1000 * 0.5, 1000 * 50 * 2},
		// A refused write of a missing session costs the minimum, 1 WRU.
		{"absent", RemoteCounts{Writes: 50, Absent: 10}, 0, 1000 * (40*2 + 10*1)},
		// A strongly consistent reload costs a whole RRU.
		{"reloads", RemoteCounts{Reads: 100, ConsistentReads: 20}, 1000 * (100*0.5 + 20*1), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := m.Bill(tc.counts, 1000)
			if math.Abs(b.RRU-tc.rru) > 1e-9 || math.Abs(b.WRU-tc.wru) > 1e-9 {
				t.Errorf("Bill = %v RRU, %v WRU; want %v, %v", b.RRU, b.WRU, tc.rru, tc.wru)
			}
			if want := tc.rru*0.125/1e6 + tc.wru*0.625/1e6; math.Abs(b.USD()-want) > 1e-12 {
				t.Errorf("USD %v, want %v", b.USD(), want)
			}
		})
	}
	if b := m.Bill(RemoteCounts{Reads: 5}, 0); b != (Bill{}) {
		t.Errorf("Bill over no operations = %+v, want zero", b)
	}
}
