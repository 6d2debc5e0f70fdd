package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tinyConfig is a run small enough for a unit test: bounded by an op cap
// well before its duration, on the in-memory remote without latency.
func tinyConfig() Config {
	return Config{
		Workload:       "b",
		Sessions:       500,
		Payload:        64,
		Concurrency:    4,
		Duration:       10 * time.Second,
		Warmup:         -1,
		MaxOps:         2000,
		Nodes:          3,
		SweepFractions: []float64{0.1, 0.5},
		SweepDuration:  10 * time.Second,
		SweepWarmup:    -1,
		NoLatency:      true,
	}
}

// runTiny runs cfg and returns the report and the progress it reported.
func runTiny(tb testing.TB, cfg Config) (*Report, []Progress) {
	tb.Helper()
	var progress []Progress
	cfg.Progress = func(p Progress) { progress = append(progress, p) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return rep, progress
}

// requireFields fails unless every JSON field of type t is a key of v,
// recursively through structs, pointers to structs and slices of them.
func requireFields(tb testing.TB, t reflect.Type, v any, path string) {
	tb.Helper()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			tb.Errorf("%s: got %T, want an object", path, v)
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			val, ok := obj[name]
			if !ok {
				tb.Errorf("%s.%s missing", path, name)
				continue
			}
			if val != nil {
				requireFields(tb, f.Type, val, path+"."+name)
			}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			tb.Errorf("%s: got %T, want an array", path, v)
			return
		}
		for i, e := range arr {
			requireFields(tb, t.Elem(), e, path+"["+string(rune('0'+i%10))+"]")
		}
	}
}

func TestRunProducesACompleteReport(t *testing.T) {
	cfg := tinyConfig()
	rep, progress := runTiny(t, cfg)

	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, buf.String())
	}
	requireFields(t, reflect.TypeFor[Report](), generic, "report")
	var back Report
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("report does not decode into Report: %v", err)
	}

	names := make([]string, len(back.Systems))
	for i, s := range back.Systems {
		names[i] = s.Name
	}
	if want := []string{"remote-only", "tiered-1", "tiered-3"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("systems %v, want %v", names, want)
	}
	for _, s := range back.Systems {
		t.Run(s.Name, func(t *testing.T) {
			if s.Ops <= 0 || s.Ops > cfg.MaxOps {
				t.Errorf("ops %d, want in (0, %d]", s.Ops, cfg.MaxOps)
			}
			if s.Errors != 0 || s.Missing != 0 {
				t.Errorf("%d errors, %d missing sessions; want none", s.Errors, s.Missing)
			}
			if s.Throughput <= 0 || s.ElapsedSeconds <= 0 {
				t.Errorf("throughput %v over %vs, want positive", s.Throughput, s.ElapsedSeconds)
			}
			l := s.Latency
			if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("percentiles not positive and non-decreasing: %+v", l)
			}
			if s.HitRatio < 0 || s.HitRatio > 1 {
				t.Errorf("hit ratio %v outside [0, 1]", s.HitRatio)
			}
			if s.LocalTier != (s.Name != "remote-only") {
				t.Errorf("local tier %v", s.LocalTier)
			}
			if s.CostPerMillionOps == nil || *s.CostPerMillionOps <= 0 {
				t.Errorf("cost %v, want a positive estimate", s.CostPerMillionOps)
			}
			// B writes 5% of requests; each write is one remote write.
			if s.RemoteWritesPer1000 < 20 || s.RemoteWritesPer1000 > 90 {
				t.Errorf("%.1f remote writes per 1000 ops, want about 50", s.RemoteWritesPer1000)
			}
			r := s.VsRemoteOnly
			for name, v := range map[string]*float64{"throughput": r.Throughput, "p50": r.P50, "p99": r.P99, "reads": r.RemoteReads, "cost": r.Cost} {
				if v == nil || *v <= 0 {
					t.Errorf("ratio %s = %v, want positive", name, v)
				}
			}
		})
	}
	base, tiered := back.Systems[0], back.Systems[1]
	// Remote only reads the remote exactly once per request.
	if base.RemoteReadsPer1000 != 1000 {
		t.Errorf("remote-only: %.1f remote reads per 1000 ops, want 1000", base.RemoteReadsPer1000)
	}
	if base.HitRatio != 0 || *base.VsRemoteOnly.Throughput != 1 || *base.VsRemoteOnly.Cost != 1 {
		t.Errorf("remote-only against itself: hit %v, ratios %+v", base.HitRatio, base.VsRemoteOnly)
	}
	// 2000 zipfian requests over 500 sessions repeat hot sessions: the
	// local tier answers some of them.
	if tiered.HitRatio <= 0.2 || tiered.RemoteReadsPer1000 >= base.RemoteReadsPer1000 {
		t.Errorf("tiered-1: hit ratio %.2f, %.0f remote reads per 1000 ops; want hits and fewer reads than %.0f",
			tiered.HitRatio, tiered.RemoteReadsPer1000, base.RemoteReadsPer1000)
	}
	if got := *tiered.VsRemoteOnly.RemoteReads; got != tiered.RemoteReadsPer1000/base.RemoteReadsPer1000 {
		t.Errorf("remote reads ratio %v, want %v", got, tiered.RemoteReadsPer1000/base.RemoteReadsPer1000)
	}

	if len(back.Sweep) != 2 {
		t.Fatalf("sweep has %d points, want 2", len(back.Sweep))
	}
	// The 10% point is tiered-1's capacity: its measurement is reused.
	if p := back.Sweep[0]; p.Source != SystemTiered || p.Ops != tiered.Ops || p.HitRatio != tiered.HitRatio {
		t.Errorf("sweep point at tiered-1's capacity: %+v, want tiered-1's measurement", p)
	}
	if p := back.Sweep[1]; p.Source != "sweep" {
		t.Errorf("sweep point 50%%: source %q, want sweep", p.Source)
	}
	if !back.Complete || back.StoppedDuring != "" {
		t.Errorf("complete %v, stopped during %q; want a complete run", back.Complete, back.StoppedDuring)
	}
	for i, p := range back.Sweep {
		if p.Fraction != cfg.SweepFractions[i] || p.Capacity != int(cfg.SweepFractions[i]*500) {
			t.Errorf("sweep point %d: fraction %v capacity %d", i, p.Fraction, p.Capacity)
		}
		if p.Ops <= 0 || p.HitRatio < 0 || p.HitRatio > 1 || p.P50us <= 0 || p.P99us < p.P50us {
			t.Errorf("sweep point %d not sane: %+v", i, p)
		}
	}
	if c := back.Config; c.Sessions != 500 || c.LocalCapacity != 50 || c.Distribution != "zipf(0.99)" || c.Bus != "in-process" || c.Remote != "memory" {
		t.Errorf("config not recorded: %+v", c)
	}

	// Progress: every phase announced and finished, in order, within [0, 1]:
	// the preload, three systems, one sweep point (the other is tiered-1's).
	steps := 1 + 3 + 1
	finished := 0
	for i, p := range progress {
		if p.Steps != steps || p.Step < 1 || p.Step > steps || p.Done < 0 || p.Done > 1 {
			t.Fatalf("progress %d: %+v", i, p)
		}
		if i > 0 && p.Step < progress[i-1].Step {
			t.Fatalf("progress went back from step %d to %d", progress[i-1].Step, p.Step)
		}
		if p.Finished {
			finished++
			if p.Summary == "" {
				t.Errorf("phase %q finished without a summary", p.Phase)
			}
		}
	}
	if finished != steps {
		t.Errorf("%d phases finished, want %d", finished, steps)
	}
}

func TestRunWithoutSweepOrSecondNode(t *testing.T) {
	cfg := tinyConfig()
	cfg.Workload, cfg.Dist, cfg.Nodes, cfg.SkipSweep = "f", DistUniform, 1, true
	rep, _ := runTiny(t, cfg)
	if len(rep.Systems) != 2 || len(rep.Sweep) != 0 {
		t.Fatalf("%d systems and %d sweep points, want 2 and 0", len(rep.Systems), len(rep.Sweep))
	}
	if rep.Config.Bus != "none" || rep.Config.Distribution != "uniform" {
		t.Errorf("config %+v", rep.Config)
	}
	// F is half read-modify-write: each of those reads and writes.
	if w := rep.Systems[0].RemoteWritesPer1000; w < 400 || w > 600 {
		t.Errorf("remote-only F: %.0f remote writes per 1000 ops, want about 500", w)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"workload", func(c *Config) { c.Workload = "z" }},
		{"distribution", func(c *Config) { c.Dist = "normal" }},
		{"zipf constant", func(c *Config) { c.Zipf = 1.5 }},
		{"sessions", func(c *Config) { c.Sessions = -1 }},
		{"payload", func(c *Config) { c.Payload = 500 * 1024 }},
		{"concurrency", func(c *Config) { c.Concurrency = -4 }},
		{"too much concurrency", func(c *Config) { c.Concurrency = MaxConcurrency + 1 }},
		{"duration", func(c *Config) { c.Duration = -time.Second }},
		{"max ops", func(c *Config) { c.MaxOps = -1 }},
		{"local fraction", func(c *Config) { c.LocalFraction = 1.5 }},
		{"nodes", func(c *Config) { c.Nodes = -2 }},
		{"sweep", func(c *Config) { c.SweepFractions = []float64{0.1, 0} }},
		{"latency", func(c *Config) { c.NoLatency, c.Latency = false, LatencyModel{ReadP50: 2, ReadP99: 1} }},
		{"prices", func(c *Config) { c.Prices = Prices{ReadPerMillion: -1} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.edit(&cfg)
			if _, err := Run(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
				t.Errorf("Run = %v, want a bench: error", err)
			}
		})
	}
}

func TestRunBillAddsUp(t *testing.T) {
	// Workload F retries conflicts through tier.Store.Update, whose
	// reloads are strongly consistent reads: every column of the bill
	// must still add up.
	cfg := tinyConfig()
	cfg.Workload, cfg.Sessions, cfg.Concurrency, cfg.SkipSweep = "f", 20, 8, true
	rep, _ := runTiny(t, cfg)
	cm := rep.Cost
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, s := range rep.Systems {
		b := s.Bill
		if b == nil || s.CostPerMillionOps == nil {
			t.Fatalf("%s: no bill", s.Name)
		}
		plain := s.RemoteReadsPer1000 - s.RemoteConsistentReadsPer1000
		if want := 1000 * (plain*cm.RRUPerRead + s.RemoteConsistentReadsPer1000*cm.RRUPerConsistentRead); !near(b.RRU, want) {
			t.Errorf("%s: %v RRU per million ops, want %v from the read columns", s.Name, b.RRU, want)
		}
		// Sessions always exist here: every write, refused or not, costs
		// the item's WRU.
		if want := 1000 * s.RemoteWritesPer1000 * cm.WRUPerWrite; !near(b.WRU, want) {
			t.Errorf("%s: %v WRU per million ops, want %v from the write column", s.Name, b.WRU, want)
		}
		if !near(b.ReadUSD, b.RRU*cm.Prices.ReadPerMillion/1e6) || !near(b.WriteUSD, b.WRU*cm.Prices.WritePerMillion/1e6) ||
			!near(*s.CostPerMillionOps, b.ReadUSD+b.WriteUSD) {
			t.Errorf("%s: bill %+v does not add up to %v", s.Name, b, *s.CostPerMillionOps)
		}
		if s.RemoteRefusedWritesPer1000 > s.RemoteWritesPer1000 {
			t.Errorf("%s: %v refused writes out of %v", s.Name, s.RemoteRefusedWritesPer1000, s.RemoteWritesPer1000)
		}
	}
	// 8 clients updating 20 sessions collide: the tier reloads with
	// strongly consistent reads, counted and billed as such.
	if tiered := rep.Systems[1]; tiered.RemoteConsistentReadsPer1000 == 0 || tiered.RemoteRefusedWritesPer1000 == 0 {
		t.Errorf("tiered-1 on F: %v consistent reads and %v refused writes per 1000 ops, want both",
			tiered.RemoteConsistentReadsPer1000, tiered.RemoteRefusedWritesPer1000)
	}
}

func TestRunStopsWithPartialReport(t *testing.T) {
	// Cancel as soon as the second system starts: the report keeps the
	// first, and says where the run stopped.
	cfg := tinyConfig()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Progress = func(p Progress) {
		if p.Phase == SystemTiered {
			cancel()
		}
	}
	rep, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if rep == nil || rep.Complete || rep.StoppedDuring != SystemTiered || len(rep.Systems) != 1 || rep.Systems[0].Name != SystemRemoteOnly {
		t.Fatalf("partial report %+v", rep)
	}
	if r := rep.Systems[0].VsRemoteOnly.Throughput; r == nil || *r != 1 {
		t.Errorf("the finished system was not compared: %v", r)
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil || !strings.Contains(b.String(), "INCOMPLETE RUN: stopped during tiered-1") {
		t.Errorf("table of a partial report (%v):\n%s", err, b.String())
	}
}

func TestPreloadSkipsTheLatencyModel(t *testing.T) {
	// 2000 sessions at a 50 ms write each would take over 3 s with 32
	// writers if the model applied to the preload; the measured phase
	// still pays it.
	cfg := tinyConfig()
	cfg.Sessions, cfg.MaxOps, cfg.Nodes, cfg.SkipSweep, cfg.Warmup = 2000, 20, 1, true, -1
	cfg.NoLatency = false
	cfg.Latency = LatencyModel{ReadP50: 50 * time.Millisecond, ReadP99: 50 * time.Millisecond, WriteP50: 50 * time.Millisecond, WriteP99: 50 * time.Millisecond}
	var preloadDone time.Duration
	start := time.Now()
	cfg.Progress = func(p Progress) {
		if p.Phase == "preload" && p.Finished {
			preloadDone = time.Since(start)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if preloadDone > time.Second {
		t.Errorf("preload took %v: it paid the latency model", preloadDone)
	}
	if p50 := rep.Systems[0].Latency.P50; p50 < 40e3 {
		t.Errorf("remote-only p50 %vµs: the latency model was off while measuring", p50)
	}
}
