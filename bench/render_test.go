package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// fixtureReport is a hand-made report with awkward names, for the table
// and chart writers.
func fixtureReport() *Report {
	cost := ptr(0.125)
	return &Report{
		Schema: ReportSchema,
		Config: ReportConfig{Workload: "b", WorkloadDescription: "YCSB B", Distribution: "zipf(0.99)", Sessions: 1000,
			PayloadBytes: 1024, Concurrency: 8, DurationSeconds: 1, LocalFraction: 0.1, LocalCapacity: 100, LocalTTLSeconds: 5,
			Remote: "memory", Latency: LatencyReport{Description: "lognormal <3ms & more>"}},
		Cost: NewCostModel(DefaultPrices(), 43, 1024, false),
		Systems: []SystemResult{
			{Name: "remote-only", Ops: 100, Throughput: 15000, Latency: Latency{P50: 3500, P90: 7000, P99: 13000, P999: 20000, Max: 30000},
				RemoteReadsPer1000: 1000, RemoteWritesPer1000: 50, CostPerMillionOps: cost,
				VsRemoteOnly: Ratios{Throughput: ptr(1), P50: ptr(1), P99: ptr(1), RemoteReads: ptr(1), Cost: ptr(1)}},
			{Name: "tiered<&>", Ops: 300, Throughput: 45000, LocalTier: true, HitRatio: 0.72,
				Latency:            Latency{P50: 1.9, P90: 5000, P99: 11000, P999: 17000, Max: 25000},
				RemoteReadsPer1000: 260, RemoteWritesPer1000: 50, CostPerMillionOps: ptr(0.079),
				VsRemoteOnly: Ratios{Throughput: ptr(3), P50: ptr(1.9 / 3500), P99: ptr(11000.0 / 13000), RemoteReads: ptr(0.26), Cost: ptr(0.632)}},
			{Name: "redis", Ops: 200, Throughput: 30000, Latency: Latency{P50: 150, P90: 300, P99: 900, P999: 2000, Max: 4000},
				RemoteReadsPer1000: 1000, RemoteWritesPer1000: 50,
				VsRemoteOnly: Ratios{Throughput: ptr(2), P50: ptr(150.0 / 3500), P99: ptr(900.0 / 13000), RemoteReads: ptr(1)}},
		},
		Sweep: []SweepPoint{
			{Fraction: 0.01, Capacity: 10, Ops: 10, HitRatio: 0.3, P50us: 2000, P99us: 9000},
			{Fraction: 0.1, Capacity: 100, Ops: 10, HitRatio: 0.7, P50us: 2, P99us: 9000},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := fixtureReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"workload b (YCSB B)", "lognormal <3ms & more>", "$0.125 per million RRU",
		"remote-only", "tiered<&>", "3.50ms", "1.90µs", "72.0", "0.1250", "n/a",
		"vs remote-only", "3.00×", "1842× lower", "-74.0%", "-36.8%",
		"hit ratio vs local capacity", "1%", "30.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
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
		name  string
		edit  func(*Report)
		bars  int
		sweep bool
	}{
		{"full", func(*Report) {}, 3 * 4, true},
		{"no sweep", func(r *Report) { r.Sweep = nil }, 3 * 4, false},
		{"no systems", func(r *Report) { r.Systems = nil }, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureReport()
			tc.edit(r)
			var b strings.Builder
			if err := r.WriteSVG(&b); err != nil {
				t.Fatal(err)
			}
			bars, polylines, circles, texts := 0, 0, 0, []string{}
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
					case "title":
						bars++
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
			bars -= circles // circles carry a title too
			if bars != tc.bars {
				t.Errorf("%d latency bars, want %d", bars, tc.bars)
			}
			if got := polylines == 1 && circles == len(r.Sweep); got != tc.sweep {
				t.Errorf("sweep drawn=%v (%d polylines, %d points), want %v", got, polylines, circles, tc.sweep)
			}
			all := strings.Join(texts, "|")
			for _, s := range r.Systems {
				if !strings.Contains(all, s.Name) {
					t.Errorf("no label %q in %s", s.Name, all)
				}
			}
		})
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
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
