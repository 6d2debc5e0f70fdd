package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

func TestJSONPayload(t *testing.T) {
	for _, n := range []int{MinJSONPayload, MinJSONPayload + 1, 100, 700, 1024, SealPayload, 20_000} {
		p := jsonPayload(rand.New(rand.NewPCG(1, uint64(n))), n)
		if len(p) != n || !json.Valid(p) {
			t.Fatalf("jsonPayload(%d): %d bytes, valid JSON %v: %s", n, len(p), json.Valid(p), p)
		}
		setJSONRev(p, 1<<40+7)
		var doc struct{ Rev string }
		if err := json.Unmarshal(p, &doc); err != nil || doc.Rev != "0000010000000007" {
			t.Fatalf("jsonPayload(%d) after setJSONRev: rev %q, err %v", n, doc.Rev, err)
		}
	}
	a := jsonPayload(rand.New(rand.NewPCG(1, 1)), SealPayload)
	b := jsonPayload(rand.New(rand.NewPCG(1, 2)), SealPayload)
	if bytes.Equal(a, b) {
		t.Fatal("two sessions got the same payload")
	}
}

// TestSizingMeterBillsEachItem checks the units a NewSizingMeter bills,
// request by request, against DynamoDB's rules.
func TestSizingMeterBillsEachItem(t *testing.T) {
	ctx := context.Background()
	m := NewSizingMeter(remote.NewMemory(remote.MemoryOptions{}), false)
	exp := time.Now().Add(time.Hour)
	key := SessionKey(0)
	small := ItemSize(len(key), 100)  // 1 WRU, 0.5 RRU
	large := ItemSize(len(key), 5000) // 5 WRU, 1 RRU
	rec, err := m.Create(ctx, remote.Record{Key: key, Data: make([]byte, 100), ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		do       func()
		rru, wru float64
	}{
		{"create of a small item", func() {}, 0, 1},
		{"read of a small item", func() { _, _, _ = m.Get(ctx, key) }, 0.5, 1},
		{"grow it: billed by the size after", func() {
			rec.Data = make([]byte, 5000)
			rec, _ = m.Put(ctx, rec, rec.Version)
		}, 0.5, 6},
		{"read of the large item", func() { _, _, _ = m.Get(ctx, key) }, 1.5, 6},
		{"consistent read: full units", func() { _, _, _ = m.GetConsistent(ctx, key) }, 3.5, 6},
		{"shrink it: billed by the size before", func() {
			rec.Data = make([]byte, 100)
			rec, _ = m.Put(ctx, rec, rec.Version)
		}, 3.5, 11},
		{"refused stale write: billed by the item stored", func() {
			stale := rec
			stale.Data = make([]byte, 5000)
			_, _ = m.Put(ctx, stale, rec.Version-1)
		}, 3.5, 12},
		{"touch: the item stored", func() { _, _ = m.Touch(ctx, key, exp) }, 3.5, 13},
		{"write of a missing item: 1 WRU", func() { _, _ = m.Touch(ctx, SessionKey(1), exp) }, 3.5, 14},
		{"read of a missing item: the minimum", func() { _, _, _ = m.Get(ctx, SessionKey(1)) }, 4, 14},
	}
	for _, st := range steps {
		st.do()
		c := m.Counts()
		if !c.Sized || c.ReadUnits != st.rru || c.WriteUnits != st.wru {
			t.Fatalf("after %s: sized %v, %g RRU, %g WRU; want %g RRU, %g WRU", st.name, c.Sized, c.ReadUnits, c.WriteUnits, st.rru, st.wru)
		}
	}
	// Items read and written: small, small, large, large, large, small.
	if got, want := m.Counts().AvgItemBytes(), float64(3*small+3*large)/6; got != want {
		t.Errorf("AvgItemBytes %g, want %g", got, want)
	}
	// The bill uses the measured units.
	b := fixedCostModel().Bill(m.Counts(), 1e6)
	if b.RRU != 4 || b.WRU != 14 {
		t.Errorf("bill %+v; want the measured 4 RRU and 14 WRU", b)
	}
}

// fixedCostModel is a cost model whose fixed item size is unlike
// any the test bills.
func fixedCostModel() CostModel { return NewCostModel(DefaultPrices(), 43, 100_000, false) }

// TestSealComparison runs a tiny sealing comparison, with and without
// encryption: compression must take the items under fewer write units.
func TestSealComparison(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		t.Run(map[bool]string{false: "compression only", true: "encrypted"}[encrypt], func(t *testing.T) {
			cfg := Config{
				Workload: "a", Sessions: 200, Payload: SealPayload, Concurrency: 4, Duration: 300 * time.Millisecond,
				Warmup: -1, MaxOps: 400, NoLatency: true, Seal: true, SealEncrypt: encrypt,
			}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Systems) != 2 || !rep.Complete || rep.Sweep == nil || len(rep.Sweep) != 0 {
				t.Fatalf("systems %d, complete %v, sweep %v; want 2 systems, complete, no sweep", len(rep.Systems), rep.Complete, rep.Sweep)
			}
			plain, packed := rep.Systems[0], rep.Systems[1]
			for _, s := range rep.Systems {
				if s.Ops == 0 || s.Errors != 0 || s.Bill == nil || s.AvgItemBytes == 0 {
					t.Fatalf("%s: %d ops, %d errors, bill %v, avg item %g", s.Name, s.Ops, s.Errors, s.Bill, s.AvgItemBytes)
				}
			}
			if !strings.Contains(packed.Name, "zstd") || strings.Contains(plain.Name, "zstd") {
				t.Errorf("systems %q, %q; want the uncompressed one first", plain.Name, packed.Name)
			}
			// 3000 bytes of JSON and the item's attributes start a 4th
			// KB (4 WRU per write); zstd takes them to about half.
			if packed.AvgItemBytes >= plain.AvgItemBytes*0.7 {
				t.Errorf("avg item: zstd %g B, uncompressed %g B; want zstd well below", packed.AvgItemBytes, plain.AvgItemBytes)
			}
			if packed.Bill.WRU >= plain.Bill.WRU {
				t.Errorf("WRU per million: zstd %g, uncompressed %g; want fewer with zstd", packed.Bill.WRU, plain.Bill.WRU)
			}
			if *packed.CostPerMillionOps >= *plain.CostPerMillionOps {
				t.Errorf("$ per million: zstd %g, uncompressed %g; want less with zstd", *packed.CostPerMillionOps, *plain.CostPerMillionOps)
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"sealing comparison:", "sealing: item size at the remote", packed.Name, "WRU per M req"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
			if strings.Contains(table.String(), "local tier") {
				t.Errorf("table of the sealing comparison mentions the local tier:\n%s", table.String())
			}
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"avg_item_bytes"`) || !strings.Contains(js.String(), `"seal"`) {
				t.Errorf("JSON report (err %v) lacks avg_item_bytes or seal", err)
			}
			if err := rep.WriteSVG(&bytes.Buffer{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSealConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Seal: true, Payload: 10}, "at least"},
		{Config{Seal: true, Redis: "127.0.0.1:6379"}, "Redis"},
		{Config{SealEncrypt: true}, "without Seal"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v; want an error with %q", tc.cfg, err, tc.want)
		}
	}
}
