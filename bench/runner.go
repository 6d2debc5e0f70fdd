package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 ns to 10 minutes at 3 significant digits, so a local
// hit (well under a microsecond) and a slow remote call are both resolved.
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute)
	histDigits  = 3
)

// system is one store under test: the nodes requests are spread over and
// the probes the report reads.
type system struct {
	name        string
	description string
	nodes       []sessionStore
	// counts returns the requests that reached the backing store so far.
	counts func() RemoteCounts
	// local returns the local tier's hits and misses so far, summed over
	// nodes; nil when the system has no local tier.
	local func() (hits, misses int64)
	// warm reports whether the system's caches are warm (every node's
	// local tier full); nil for a system without caches.
	warm func() bool
	// dynamo tells whether the backing store is the DynamoDB remote, so
	// that its traffic has a DynamoDB price.
	dynamo bool
	// close releases the system's resources.
	close func() error
}

// runParams are the knobs of one measured run.
type runParams struct {
	workload    Workload
	keys        KeyChooser
	sessionKeys []string
	concurrency int
	// warmup is the least unmeasured time. A system with a warm probe
	// keeps warming until the probe says so or warmupMax has passed.
	warmup    time.Duration
	warmupMax time.Duration
	duration  time.Duration
	maxOps    int64 // 0: no cap
	seed      uint64
	// jsonPayload tells that the sessions hold JSON (Config.Seal).
	jsonPayload bool
	// tick, when set, is called about every 100 ms from the coordinating
	// goroutine with the fraction of the run done and the measured
	// operations so far.
	tick func(done float64, ops int64)
}

// measurement is what one run observed in its measured window.
type measurement struct {
	hist      *hdrhistogram.Histogram
	classes   [numClasses]*hdrhistogram.Histogram // by request class; nil for a class without requests
	gc        GCStats
	ops       int64
	errors    int64
	conflicts int64 // requests that ended in a version conflict
	missing   int64 // requests that found no session
	elapsed   time.Duration
	warmup    time.Duration
	remote    RemoteCounts
	hits      int64
	misses    int64
	hasLocal  bool
	// clients holds, per client in worker order, how many requests it
	// drew and how many of them were recorded: the first issued-recorded
	// were its warm-up. With the seed, they are all it takes to draw the
	// same requests again (sweepTrace).
	clients []clientCount
}

// clientCount is how many requests one client drew, and how many of them
// it recorded.
type clientCount struct{ issued, recorded int64 }

// worker is one closed-loop client: it issues a request, waits for the
// answer, records the latency, and issues the next.
type worker struct {
	run       requestRunner
	hist      *hdrhistogram.Histogram
	classes   [numClasses]*hdrhistogram.Histogram // allocated on a class's first request
	issued    int64                               // requests drawn, warm-up included
	ops       int64
	errors    int64
	conflicts int64
	missing   int64
	progress  atomic.Int64
}

// probe is a snapshot of a system's counters, and of the GC's.
type probe struct {
	remote       RemoteCounts
	hits, misses int64
	gc           gcSnapshot
}

func (s *system) probe() probe {
	p := probe{remote: s.counts(), gc: readGC()}
	if s.local != nil {
		p.hits, p.misses = s.local()
	}
	return p
}

// window is when recording happens, shared by the coordinator and the
// workers: the coordinator opens it when the warm-up ends, and workers
// record only requests that start inside it.
type window struct {
	from     atomic.Int64 // UnixNano; 0 while warming up
	deadline atomic.Int64 // UnixNano; set before from
}

// open starts recording at now for d.
func (w *window) open(now time.Time, d time.Duration) {
	w.deadline.Store(now.Add(d).UnixNano())
	w.from.Store(now.UnixNano())
}

// measure runs p.workload against sys with p.concurrency workers. Requests
// issued during the warm-up are executed but not recorded. The warm-up
// lasts p.warmup, and for a system with a warm probe until the probe
// reports warm or p.warmupMax has passed. Recording then lasts p.duration
// or p.maxOps recorded requests, whichever ends first; requests in flight
// at the deadline finish and are recorded.
func measure(ctx context.Context, sys *system, p runParams) (measurement, error) {
	if p.concurrency < 1 {
		return measurement{}, fmt.Errorf("bench: concurrency %d: need at least 1", p.concurrency)
	}
	workers := make([]*worker, p.concurrency)
	for i := range workers {
		gen, err := NewGenerator(p.workload, p.keys, len(sys.nodes), p.seed, i)
		if err != nil {
			return measurement{}, err
		}
		workers[i] = &worker{
			run:  requestRunner{keys: p.sessionKeys, gen: gen, json: p.jsonPayload},
			hist: hdrhistogram.New(histLowest, histHighest, histDigits),
		}
	}
	warmMax := max(p.warmup, p.warmupMax)
	if sys.warm == nil {
		warmMax = p.warmup
	}

	var budget atomic.Int64
	budget.Store(p.maxOps)
	var win window
	var before probe
	start := time.Now()
	recStart := start
	if warmMax <= 0 {
		before = sys.probe()
		win.open(start, p.duration)
	}

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, sys, &win, p.maxOps > 0, &budget)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// The minimum warm-up ends on a timer; past it, the warm probe is
	// polled with the progress ticks.
	warm := time.NewTimer(max(p.warmup, 0))
	defer warm.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	minDone := p.warmup <= 0
	tryOpen := func(now time.Time) {
		if win.from.Load() != 0 || !minDone {
			return
		}
		if elapsed := now.Sub(start); elapsed >= warmMax || sys.warm == nil || sys.warm() {
			before, recStart = sys.probe(), now
			win.open(now, p.duration)
		}
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case now := <-warm.C:
			minDone = true
			tryOpen(now)
		case now := <-tick.C:
			tryOpen(now)
			if p.tick != nil {
				var ops int64
				for _, w := range workers {
					ops += w.progress.Load()
				}
				// While warming, the length of the warm-up is not known:
				// count the longest it may take.
				frac := float64(now.Sub(start)) / float64(max(warmMax+p.duration, 1))
				if win.from.Load() != 0 {
					frac = float64(now.Sub(start)) / float64(max(recStart.Sub(start)+p.duration, 1))
					if p.maxOps > 0 {
						frac = max(frac, float64(ops)/float64(p.maxOps))
					}
				}
				p.tick(min(frac, 1), ops)
			}
		}
	}
	end := time.Now()
	after := sys.probe()
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}

	m := measurement{
		hist:     hdrhistogram.New(histLowest, histHighest, histDigits),
		elapsed:  end.Sub(recStart),
		warmup:   recStart.Sub(start),
		remote:   after.remote.sub(before.remote),
		hits:     after.hits - before.hits,
		misses:   after.misses - before.misses,
		hasLocal: sys.local != nil,
		gc:       gcBetween(before.gc, after.gc),
		clients:  make([]clientCount, len(workers)),
	}
	for i, w := range workers {
		m.hist.Merge(w.hist)
		for c, h := range w.classes {
			if h == nil {
				continue
			}
			if m.classes[c] == nil {
				m.classes[c] = newClassHist()
			}
			m.classes[c].Merge(h)
		}
		m.clients[i] = clientCount{issued: w.issued, recorded: w.ops}
		m.ops += w.ops
		m.errors += w.errors
		m.conflicts += w.conflicts
		m.missing += w.missing
	}
	if p.tick != nil {
		p.tick(1, m.ops)
	}
	return m, nil
}

// loop issues requests until the recording window's deadline, the op
// budget runs out or ctx ends. Only requests that start inside the window
// are recorded.
func (w *worker) loop(ctx context.Context, sys *system, win *window, capped bool, budget *atomic.Int64) {
	for ctx.Err() == nil {
		start := time.Now()
		recorded := false
		if from := win.from.Load(); from != 0 {
			now := start.UnixNano()
			if now >= win.deadline.Load() {
				return
			}
			recorded = now >= from
		}
		if recorded && capped && budget.Add(-1) < 0 {
			return
		}
		req := w.run.gen.Next()
		w.issued++
		rctx, probe := withProbe(ctx)
		out := w.run.do(rctx, sys.nodes[req.Node], req)
		if !recorded {
			continue
		}
		lat := min(time.Since(start).Nanoseconds(), histHighest) // beyond the range: its top
		_ = w.hist.RecordValue(lat)
		c := probe.classify(req.Op)
		if w.classes[c] == nil {
			w.classes[c] = newClassHist()
		}
		_ = w.classes[c].RecordValue(lat)
		w.ops++
		w.progress.Store(w.ops)
		switch out {
		case outcomeConflict:
			w.conflicts++
		case outcomeMissing:
			w.missing++
		case outcomeError:
			w.errors++
		}
	}
}
