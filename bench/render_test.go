package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// fixtureReport is a hand-made report with awkward names, for the table
// and chart writers.
func fixtureReport() *Report {
	cm := NewCostModel(DefaultPrices(), 43, 1024, false)
	bill := func(reads, writes float64) *Bill {
		b := cm.Bill(RemoteCounts{Reads: int64(reads), Writes: int64(writes)}, 1000)
		return &b
	}
	baseBill, tieredBill := bill(1000, 50), bill(260, 50)
	return &Report{
		Schema:   ReportSchema,
		Complete: true,
		Config: ReportConfig{Workload: "b", WorkloadDescription: "YCSB B", Distribution: "zipf(0.99)", Sessions: 1000,
			PayloadBytes: 1024, Concurrency: 8, DurationSeconds: 1, LocalFraction: 0.1, LocalCapacity: 100, LocalTTLSeconds: 5,
			Remote: "memory", Latency: LatencyReport{Description: "lognormal <3ms & more>"}, RedisNote: "redis-server 7 started for this run"},
		Cost: cm,
		Systems: []SystemResult{
			{Name: "remote-only", Description: "every request to the remote", Ops: 100, Throughput: 15000,
				Latency:            Latency{P50: 3500, P90: 7000, P99: 13000, P999: 20000, Max: 30000},
				RemoteReadsPer1000: 1000, RemoteWritesPer1000: 50, RemoteRefusedWritesPer1000: 1.5, ConflictsPer1000: 1.5,
				Bill: baseBill, CostPerMillionOps: ptr(baseBill.USD()),
				VsRemoteOnly: Ratios{Throughput: ptr(1), P50: ptr(1), P99: ptr(1), RemoteReads: ptr(1), Cost: ptr(1)},
				LatencyByOp: []OpLatency{
					{Class: "read_remote", Ops: 95, Share: 0.95, P50: 3400, P99: 11000, P999: 14000, Max: 15000, TailShare: 0.375},
					{Class: "update", Ops: 5, Share: 0.05, P50: 8800, P99: 24000, P999: 30000, Max: 30000, TailShare: 0.625},
				},
				GC: GCStats{Cycles: 12, PauseTotalUs: 1234, PauseMaxUs: 321, CPUFraction: 0.031}},
			{Name: "tiered<&>", Description: "one node", Ops: 300, Throughput: 45000, LocalTier: true, HitRatio: 0.72,
				Latency:            Latency{P50: 1.9, P90: 5000, P99: 11000, P999: 17000, Max: 25000},
				RemoteReadsPer1000: 260, RemoteWritesPer1000: 50, RemoteRefusedWritesPer1000: 4.25, ConflictsPer1000: 4.25, ErrorsPer1000: 12.5,
				Bill: tieredBill, CostPerMillionOps: ptr(tieredBill.USD()),
				VsRemoteOnly: Ratios{Throughput: ptr(3), P50: ptr(1.9 / 3500), P99: ptr(11000.0 / 13000), RemoteReads: ptr(0.26),
					Cost: ptr(tieredBill.USD() / baseBill.USD())},
				LatencyByOp: []OpLatency{
					{Class: "read_hit", Ops: 200, Share: 0.667, P50: 1.2, P99: 40, P999: 90, Max: 120},
					{Class: "read_shared", Ops: 10, Share: 0.033, P50: 2500, P99: 9000, P999: 9000, Max: 9000, TailShare: 0.25},
					{Class: "read_remote", Ops: 75, Share: 0.25, P50: 3000, P99: 10000, P999: 12000, Max: 12000, TailShare: 0.25},
					{Class: "update", Ops: 15, Share: 0.05, P50: 5100, P99: 17000, P999: 17000, Max: 17000, TailShare: 0.5},
				}},
			{Name: "redis", Description: "every session in Redis", Ops: 200, Throughput: 30000,
				Latency:            Latency{P50: 150, P90: 300, P99: 900, P999: 2000, Max: 4000},
				RemoteReadsPer1000: 1000, RemoteWritesPer1000: 50,
				VsRemoteOnly: Ratios{Throughput: ptr(2), P50: ptr(150.0 / 3500), P99: ptr(900.0 / 13000), RemoteReads: ptr(1)}},
		},
		Sweep: []SweepPoint{
			{Source: "sweep", Fraction: 0.01, Capacity: 10, Ops: 10, HitRatio: 0.3, P50us: 2000, P99us: 9000,
				SimLRUHitRatio: ptr(0.345), SimTinyLFUHitRatio: ptr(0.414), SimLookups: 10},
			{Source: "tiered<&>", Fraction: 0.1, Capacity: 100, Ops: 10, HitRatio: 0.7, P50us: 2, P99us: 9000,
				SimLRUHitRatio: ptr(0.75), SimTinyLFUHitRatio: ptr(0.8), SimLookups: 10},
		},
		SweepSimulation: "replayed <&> again",
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := fixtureReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"workload b (YCSB B)", "lognormal <3ms & more>", "$0.125 per million RRU", "redis: redis-server 7 started for this run",
		"every request to the remote",
		// The lead: remote reads saved, cost, p99, throughput.
		"what each system saves against remote-only", "1000 (baseline)", "260 (74.0% fewer)", "$0.1250 (baseline)",
		"$0.0788 (-37.0%)", "11.0ms (1.18× lower)", "45.0k ops/s (3.00×)", "n/a (not DynamoDB)",
		// Latency and outcomes per 1000 requests.
		"3.50ms", "1.90µs", "72.0", "4.25", "12.5",
		// The bill: 1000 reads × 0.5 = 500 RRU, 50 writes × 2 = 100 WRU;
		// 500 × $0.125 / 1000 + 100 × $0.625 / 1000 = 0.0625 + 0.0625.
		"500.0", "100.0", "0.0625", "0.1250",
		"hit ratio vs local capacity", "1%", "30.0", "10%*", "capacity 10% is tiered<&>'s own measurement",
		// The sweep's simulated references, and how they were made.
		"exact LRU %", "W-TinyLFU %", "34.5", "41.4", "75.0", "80.0", "replayed <&> again", "TTL (5s",
		// The tail by request type, and the GC.
		"which requests make each system's p99", "read, remote read", "write: update", "62.5%", "24.0ms",
		"read, local hit", "1.20µs", "read, shared load", "9.00ms", "garbage collection during each measured window",
		"1.23ms", "321µs", "3.1%",
		"conflicts/1k: requests whose version-checked write was refused",
		"DynamoDB bills a refused write like one that succeeds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "INCOMPLETE") {
		t.Errorf("a complete report is marked incomplete:\n%s", out)
	}
	// The lead comes before the details.
	if i, j := strings.Index(out, "what each system saves"), strings.Index(out, "latency and outcomes"); i < 0 || j < i {
		t.Errorf("the savings summary does not lead:\n%s", out)
	}

	r := fixtureReport()
	r.Complete, r.StoppedDuring = false, "tiered-3"
	b.Reset()
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "INCOMPLETE RUN: stopped during tiered-3") {
		t.Errorf("an incomplete report does not say so first:\n%s", b.String())
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportWriteErrors(t *testing.T) {
	r := fixtureReport()
	for name, write := range map[string]func(io.Writer) error{"table": r.WriteTable, "svg": r.WriteSVG, "json": r.WriteJSON} {
		if err := write(errWriter{}); err == nil {
			t.Errorf("%s: a failed write went unreported", name)
		}
	}
}

func TestWriteSVGIsWellFormed(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Report)
		// bars per class of bar
		bars map[string]int
		// lines of the sweep panel: measured, exact LRU, W-TinyLFU
		lines int
	}{
		{"full", func(*Report) {}, map[string]int{"latency": 3 * 4, "throughput": 3, "reads": 3, "cost": 2}, 3},
		{"no sweep", func(r *Report) { r.Sweep = nil }, map[string]int{"latency": 3 * 4, "throughput": 3, "reads": 3, "cost": 2}, 0},
		{"no systems", func(r *Report) { r.Systems = nil }, map[string]int{}, 3},
		{"sweep not simulated", func(r *Report) {
			for i := range r.Sweep {
				r.Sweep[i].SimLRUHitRatio, r.Sweep[i].SimTinyLFUHitRatio = nil, nil
			}
		}, map[string]int{"latency": 3 * 4, "throughput": 3, "reads": 3, "cost": 2}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureReport()
			tc.edit(r)
			var b strings.Builder
			if err := r.WriteSVG(&b); err != nil {
				t.Fatal(err)
			}
			bars := map[string]int{}
			polylines, circles, texts := 0, 0, []string{}
			dec := xml.NewDecoder(strings.NewReader(b.String()))
			var inText bool
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b.String())
				}
				switch el := tok.(type) {
				case xml.StartElement:
					switch el.Name.Local {
					case "rect":
						for _, a := range el.Attr {
							if a.Name.Local == "class" {
								bars[a.Value]++
							}
						}
					case "polyline":
						polylines++
					case "circle":
						circles++
					case "text":
						inText = true
					}
				case xml.EndElement:
					inText = false
				case xml.CharData:
					if inText {
						texts = append(texts, string(el))
					}
				}
			}
			if !reflect.DeepEqual(bars, tc.bars) {
				t.Errorf("bars %v, want %v", bars, tc.bars)
			}
			if polylines != tc.lines || circles != tc.lines*len(r.Sweep) {
				t.Errorf("sweep: %d lines, %d points; want %d lines of %d points", polylines, circles, tc.lines, len(r.Sweep))
			}
			all := strings.Join(texts, "|")
			// A legend names the lines when there are several.
			for _, name := range []string{"local tier (measured)", "exact LRU (simulated)", "W-TinyLFU (simulated)"} {
				if got := strings.Contains(all, name); got != (tc.lines > 1) {
					t.Errorf("legend entry %q shown=%v with %d lines", name, got, tc.lines)
				}
			}
			for _, s := range r.Systems {
				if !strings.Contains(all, s.Name) {
					t.Errorf("no label %q in %s", s.Name, all)
				}
			}
			for _, want := range []string{"Throughput", "Remote reads per 1000 requests", "DynamoDB cost per million requests", "Local hit ratio"} {
				if !strings.Contains(all, want) {
					t.Errorf("no panel %q", want)
				}
			}
			if len(r.Systems) > 0 && !strings.Contains(all, "n/a") {
				t.Error("the system without a DynamoDB bill is not marked n/a")
			}
		})
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		top  float64
		step float64
		n    int
	}{
		{1000, 250, 4}, {46200, 20000, 3}, {0.125, 0.05, 3}, {0, 1, 1}, {7, 2, 4},
	}
	for _, tc := range tests {
		step, n := niceTicks(tc.top)
		if math.Abs(step-tc.step) > 1e-12 || n != tc.n || step*float64(n) < tc.top {
			t.Errorf("niceTicks(%v) = %v, %d; want %v, %d", tc.top, step, n, tc.step, tc.n)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatMicros(0.42), "420ns"},
		{formatMicros(1.95), "1.95µs"},
		{formatMicros(12.34), "12.3µs"},
		{formatMicros(3550), "3.55ms"},
		{formatMicros(125000), "125ms"},
		{formatMicros(2.5e6), "2.50s"},
		{decadeLabel(-1), "100ns"},
		{decadeLabel(0), "1µs"},
		{decadeLabel(2), "100µs"},
		{decadeLabel(4), "10ms"},
		{decadeLabel(7), "10s"},
		{formatCount(950), "950"},
		{formatCount(17900), "17.9k"},
		{formatCount(1.234e6), "1.23M"},
		{times(ptr(3.04)), "3.04×"},
		{times(nil), "-"},
		{lower(ptr(0.001)), "1000× lower"},
		{lower(ptr(0.8)), "1.25× lower"},
		{lower(ptr(1.12)), "1.12× higher"},
		{lower(ptr(0)), "∞× lower"},
		{lower(nil), "-"},
		{change(ptr(0.259)), "-74.1%"},
		{change(ptr(1.02)), "+2.0%"},
		{change(ptr(1)), "0%"},
		{change(nil), "n/a"},
		{fewer(ptr(0.259)), "74.1% fewer"},
		{fewer(ptr(1.2)), "20.0% more"},
		{fewer(ptr(1)), "same"},
		{formatPercent(0.1), "10%"},
		{formatPercent(0.125), "12.5%"},
		{formatPercent(1), "100%"},
		{formatPercent(1.0 / 3), "33.3%"},
		{formatPercent(0.000001), "0.0001%"},
		{formatPercent(0.00012345), "0.0123%"},
		{formatPer1000(1.234), "1.23"},
		{formatPer1000(13.56), "13.6"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
