package bench

import (
	"context"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// gatedRemote holds its first Get until release is closed, after saying
// so on entered.
type gatedRemote struct {
	remote.Store
	once             sync.Once
	entered, release chan struct{}
}

func (g *gatedRemote) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Store.Get(ctx, key)
}

// doneSignal closes waiting when a store first asks its context for
// Done, and passes the call on, so that the probe inside still sees it.
type doneSignal struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (d *doneSignal) Done() <-chan struct{} {
	ch := d.Context.Done()
	d.once.Do(func() { close(d.waiting) })
	return ch
}

// TestReadClasses drives a real tier.Store into each kind of read and
// checks the class the probe gives it: the leader of a load made the
// remote read, a caller that joined its flight waited on it, and a later
// read hits.
func TestReadClasses(t *testing.T) {
	ctx := context.Background()
	mem := remote.NewMemory(remote.MemoryOptions{})
	const key = "session-key-0123456789"
	if _, err := mem.Create(ctx, remote.Record{Key: key, Data: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	gate := &gatedRemote{Store: mem, entered: make(chan struct{}), release: make(chan struct{})}
	meter := NewMeter(gate)
	st, err := tier.New(meter, tier.Options{LocalCapacity: 16, LocalTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// read runs one Get with a probe, its context wrapped by sig when
	// set (around the probe, so that the probe still sees Done).
	read := func(sig *doneSignal) opClass {
		rctx, p := withProbe(ctx)
		if sig != nil {
			sig.Context = rctx
			rctx = sig
		}
		if _, found, err := st.Get(rctx, key); err != nil || !found {
			t.Errorf("Get = %v, %v", found, err)
		}
		return p.classify(OpRead)
	}
	var leader, follower opClass
	var wg sync.WaitGroup
	wg.Go(func() { leader = read(nil) })
	<-gate.entered // the leader's load is at the remote
	sig := &doneSignal{waiting: make(chan struct{})}
	wg.Go(func() { follower = read(sig) })
	<-sig.waiting // the follower has joined the flight and waits
	close(gate.release)
	wg.Wait()
	if leader != classReadRemote || follower != classReadShared {
		t.Errorf("leader %s, follower %s; want read_remote, read_shared", classNames[leader], classNames[follower])
	}
	if n := st.Stats().SharedLoads; n != 1 {
		t.Errorf("the store counted %d shared loads, want 1: the follower did not share the load", n)
	}
	if c := read(nil); c != classReadHit {
		t.Errorf("a cached read: %s, want read_hit", classNames[c])
	}
	if c := read(nil); meter.Counts().Reads != 1 || c != classReadHit {
		t.Errorf("%d remote reads, class %s; want the one load and a hit", meter.Counts().Reads, classNames[c])
	}

	// Remote-only reads the remote on every request.
	pctx, p := withProbe(ctx)
	if _, _, err := (remoteOnly{r: meter}).Get(pctx, key); err != nil {
		t.Fatal(err)
	}
	if c := p.classify(OpRead); c != classReadRemote {
		t.Errorf("remote-only read: %s, want read_remote", classNames[c])
	}
	// A write's class is its operation, whatever its read did.
	for op, want := range map[Op]opClass{OpUpdate: classUpdate, OpReadModifyWrite: classRMW, OpTouch: classTouch} {
		if c := p.classify(op); c != want {
			t.Errorf("%s: class %s, want %s", op, classNames[c], classNames[want])
		}
	}
}

func TestLatencyByOp(t *testing.T) {
	var classes [numClasses]*hdrhistogram.Histogram
	record := func(c opClass, us ...float64) {
		if classes[c] == nil {
			classes[c] = newClassHist()
		}
		for _, v := range us {
			_ = classes[c].RecordValue(int64(v * 1e3))
		}
	}
	// 90 hits of 1µs, 8 remote reads of 3ms, 2 updates of 20ms: the p99
	// over all is 20ms, and only the updates reach it.
	for range 90 {
		record(classReadHit, 1)
	}
	for range 8 {
		record(classReadRemote, 3000)
	}
	record(classUpdate, 20000, 20000)
	got := latencyByOp(classes, 20_000_000)
	if len(got) != 3 || got[0].Class != "read_hit" || got[1].Class != "read_remote" || got[2].Class != "update" {
		t.Fatalf("classes %+v, want read_hit, read_remote, update", got)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 0.011*b }
	if u := got[2]; u.Ops != 2 || u.Share != 0.02 || u.TailShare != 1 || !near(u.P99, 20000) {
		t.Errorf("updates %+v, want 2 ops, 2%% of requests, all of the tail, p99 20ms", u)
	}
	if h := got[0]; h.TailShare != 0 || h.Share != 0.9 || !near(h.P50, 1) {
		t.Errorf("hits %+v, want 90%% of requests, none of the tail, p50 1µs", h)
	}
	// With the threshold at the remote reads' latency, they take their
	// part of the tail.
	got = latencyByOp(classes, 3_000_000)
	if r := got[1]; !near(r.TailShare, 0.8) {
		t.Errorf("remote reads' part of the requests at or above 3ms: %v, want 0.8", r.TailShare)
	}
}

func TestGCBetween(t *testing.T) {
	a := gcSnapshot{numGC: 254, pauseTotal: 1000, gcCPU: 1, allCPU: 10}
	b := a
	b.numGC, b.pauseTotal, b.gcCPU, b.allCPU = 257, 8000, 1.5, 20
	// Cycles 255, 256 and 257 sit at PauseNs[254], [255] and [0].
	b.pauses[254], b.pauses[255], b.pauses[0], b.pauses[1] = 1000, 5000, 1000, 9000
	g := gcBetween(a, b)
	if g.Cycles != 3 || g.PauseTotalUs != 7 || g.PauseMaxUs != 5 || g.CPUFraction != 0.05 {
		t.Errorf("gcBetween = %+v, want 3 cycles, 7µs of pauses, longest 5µs, 5%% of the CPU", g)
	}
	// A real window with a collection in it.
	before := readGC()
	runtime.GC()
	if g := gcBetween(before, readGC()); g.Cycles < 1 || g.PauseTotalUs <= 0 || g.PauseMaxUs <= 0 || g.CPUFraction < 0 || g.CPUFraction > 1 {
		t.Errorf("after a forced GC: %+v, want a cycle with a pause", g)
	}
}

// TestRunReportsTailAndSimulation checks, on a whole run, that every
// recorded request lands in one class, that the classes' parts of the
// tail add up, and that every sweep point carries its simulation on as
// many lookups as it recorded requests.
func TestRunReportsTailAndSimulation(t *testing.T) {
	cfg := tinyConfig()
	rep, _ := runTiny(t, cfg)
	for _, s := range rep.Systems {
		var ops int64
		var tail float64
		classes := map[string]bool{}
		for _, l := range s.LatencyByOp {
			ops += l.Ops
			tail += l.TailShare
			classes[l.Class] = true
			if l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max*1.01 {
				t.Errorf("%s %s: percentiles %+v", s.Name, l.Class, l)
			}
		}
		if ops != s.Ops || math.Abs(tail-1) > 1e-9 {
			t.Errorf("%s: classes hold %d of %d requests and %v of the tail; want all of both", s.Name, ops, s.Ops, tail)
		}
		// Workload B reads and updates; remote-only has no local tier.
		if !classes["update"] || !classes["read_remote"] || classes["rmw"] || classes["touch"] {
			t.Errorf("%s: classes %v, want read_remote and update among them, no rmw or touch", s.Name, classes)
		}
		if hit := classes["read_hit"] || classes["read_shared"]; hit != s.LocalTier {
			t.Errorf("%s: local tier %v, but classes %v", s.Name, s.LocalTier, classes)
		}
		if g := s.GC; g.Cycles < 0 || g.PauseTotalUs < 0 || g.PauseMaxUs > g.PauseTotalUs || g.CPUFraction < 0 || g.CPUFraction > 1 {
			t.Errorf("%s: GC %+v", s.Name, g)
		}
	}
	if rep.SweepSimulation == "" || len(rep.Sweep) != len(cfg.SweepFractions) {
		t.Fatalf("sweep of %d points, simulation %q", len(rep.Sweep), rep.SweepSimulation)
	}
	for _, p := range rep.Sweep {
		if p.SimLRUHitRatio == nil || p.SimTinyLFUHitRatio == nil {
			t.Errorf("sweep point %s: not simulated", formatPercent(p.Fraction))
			continue
		}
		lru, tiny := *p.SimLRUHitRatio, *p.SimTinyLFUHitRatio
		if p.SimLookups != p.Ops || lru <= 0 || lru > 1 || tiny <= 0 || tiny > 1 {
			t.Errorf("sweep point %s: %d lookups for %d requests, exact LRU %v, W-TinyLFU %v",
				formatPercent(p.Fraction), p.SimLookups, p.Ops, lru, tiny)
		}
	}
}
