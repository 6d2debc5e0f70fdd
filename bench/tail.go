package bench

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync/atomic"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Where a system's tail comes from: every recorded request is put in one
// class by how it was answered, and each class keeps its own latency
// histogram, so that the report can say which kind of request makes a
// system's p99.
//
// A read's class is told by a probe the request carries in its context
// (requestProbe): the Meter (or the Redis system) marks the probe of the
// request whose context reaches it, and a tier.Store only looks at a
// caller's context on a miss, where it waits for the shared load
// (tier.Store.load selects on ctx.Done()). So a read whose context
// reached the remote made its own remote read; one that waited without
// reaching the remote was answered by another caller's load of the same
// key (a singleflight follower, or, rarely, the load's re-check of the
// local tier); one that did neither was a local hit. The tier runs a
// shared load detached from its caller's cancellation but with its
// values, so the leader's probe is marked even though the load runs on
// the flight's goroutine. A write's class is its operation.

// opClass is the class of a recorded request.
type opClass int

const (
	classReadHit    opClass = iota // a read answered by the local tier
	classReadRemote                // a read that made its own remote read
	classReadShared                // a read that waited on another caller's load
	classUpdate                    // OpUpdate: a read, then a version-checked write
	classRMW                       // OpReadModifyWrite
	classTouch                     // OpTouch
	numClasses
)

// classNames name the classes in the JSON report; classLabels in the
// table.
var (
	classNames  = [numClasses]string{"read_hit", "read_remote", "read_shared", "update", "rmw", "touch"}
	classLabels = [numClasses]string{"read, local hit", "read, remote read", "read, shared load", "write: update", "write: rmw", "write: touch"}
)

// Class histograms keep two significant digits (1% resolution, about 35
// KB each) rather than the main histogram's three (250 KB): they are
// allocated per client and class, and a p99 by class needs no more.
const classDigits = 2

// requestProbe records how one request reached the stores. It is
// allocated per request, so that a load or publish that outlives its
// request can only mark a probe nobody reads any more.
type requestProbe struct {
	remote atomic.Bool // a remote (or Redis) read was made with its context
	waited atomic.Bool // the store waited on its context (ctx.Done)
}

// probeKey is the context key of a requestProbe.
type probeKey struct{}

// probeCtx is a request's context: it carries the probe as a value and
// marks it when a store asks for Done, which a tier.Store does only on a
// miss.
type probeCtx struct {
	context.Context
	p *requestProbe
}

// Done marks the probe as having waited and returns the parent's Done.
func (c probeCtx) Done() <-chan struct{} {
	c.p.waited.Store(true)
	return c.Context.Done()
}

// Value returns the probe for probeKey and the parent's values otherwise.
func (c probeCtx) Value(key any) any {
	if key == (probeKey{}) {
		return c.p
	}
	return c.Context.Value(key)
}

// withProbe returns ctx carrying a new probe, and the probe.
func withProbe(ctx context.Context) (context.Context, *requestProbe) {
	p := &requestProbe{}
	return probeCtx{Context: ctx, p: p}, p
}

// markRemoteRead marks the probe in ctx, if any, as having made a remote
// read.
func markRemoteRead(ctx context.Context) {
	if p, ok := ctx.Value(probeKey{}).(*requestProbe); ok {
		p.remote.Store(true)
	}
}

// classify returns the class of a finished request of op whose probe is p.
func (p *requestProbe) classify(op Op) opClass {
	switch op {
	case OpUpdate:
		return classUpdate
	case OpReadModifyWrite:
		return classRMW
	case OpTouch:
		return classTouch
	}
	switch {
	case p.remote.Load():
		return classReadRemote
	case p.waited.Load():
		return classReadShared
	}
	return classReadHit
}

// OpLatency is the latency of one class of request in a system's measured
// window, in microseconds.
type OpLatency struct {
	// Class is read_hit (answered by the local tier), read_remote (made
	// its own remote read: every read of remote-only, a miss that led
	// the load in a tiered system; for Redis, its HMGET), read_shared (a
	// miss answered by another request's load of the same key, a
	// singleflight follower), or the writing operation: update, rmw or
	// touch (the whole request, its read included).
	Class string `json:"class"`
	// Ops counts the class's requests; Share is Ops over all requests.
	Ops   int64   `json:"ops"`
	Share float64 `json:"share"`
	// Percentiles and the slowest request, to two significant digits.
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p99_9_us"`
	Max  float64 `json:"max_us"`
	// TailShare is the class's part of the system's slowest requests:
	// those at or above the system's own p99. The classes' parts add up
	// to 1; the class with the largest part makes the p99.
	TailShare float64 `json:"share_of_slowest_1pct"`
}

// GCStats is what the Go garbage collector did during a measured window,
// for the whole process (harness and stores alike).
type GCStats struct {
	// Cycles counts the GC cycles that ended in the window.
	Cycles int64 `json:"cycles"`
	// PauseTotalUs adds up their stop-the-world pauses; PauseMaxUs is
	// the longest (0 when more than 256 cycles ran: Go keeps no more).
	PauseTotalUs float64 `json:"pause_total_us"`
	PauseMaxUs   float64 `json:"pause_max_us"`
	// CPUFraction is the CPU the GC used (its background workers, mark
	// assists and pauses) over all the CPU time GOMAXPROCS allowed in
	// the window.
	CPUFraction float64 `json:"cpu_fraction"`
}

// gcSnapshot is the GC's counters at one instant.
type gcSnapshot struct {
	numGC      uint32
	pauseTotal uint64
	pauses     [256]uint64 // runtime.MemStats.PauseNs
	gcCPU      float64     // seconds
	allCPU     float64     // seconds
}

// gcMetrics are the runtime/metrics samples a snapshot reads.
var gcMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/cpu/classes/total:cpu-seconds"}

// readGC takes a snapshot. ReadMemStats stops the world for a moment; it
// runs twice per measured window, at its edges.
func readGC() gcSnapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := gcSnapshot{numGC: ms.NumGC, pauseTotal: ms.PauseTotalNs, pauses: ms.PauseNs}
	samples := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	if samples[0].Value.Kind() == metrics.KindFloat64 && samples[1].Value.Kind() == metrics.KindFloat64 {
		s.gcCPU, s.allCPU = samples[0].Value.Float64(), samples[1].Value.Float64()
	}
	return s
}

// gcBetween returns what the GC did from a to b.
func gcBetween(a, b gcSnapshot) GCStats {
	st := GCStats{
		Cycles:       int64(b.numGC - a.numGC),
		PauseTotalUs: float64(b.pauseTotal-a.pauseTotal) / 1e3,
	}
	if st.Cycles <= int64(len(b.pauses)) {
		// PauseNs[(NumGC+255)%256] is the most recent pause.
		for n := a.numGC + 1; n <= b.numGC; n++ {
			st.PauseMaxUs = max(st.PauseMaxUs, float64(b.pauses[(n+255)%256])/1e3)
		}
	}
	if cpu := b.allCPU - a.allCPU; cpu > 0 {
		st.CPUFraction = (b.gcCPU - a.gcCPU) / cpu
	}
	return st
}

// newClassHist returns an empty class histogram.
func newClassHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, classDigits)
}

// latencyByOp summarizes the class histograms of a measured window whose
// requests' p99 over all classes is p99 (nanoseconds). Classes without
// requests are left out.
func latencyByOp(classes [numClasses]*hdrhistogram.Histogram, p99 int64) []OpLatency {
	var total, tailTotal int64
	tails := [numClasses]int64{}
	for c, h := range classes {
		if h == nil {
			continue
		}
		total += h.TotalCount()
		tails[c] = countAtLeast(h, p99)
		tailTotal += tails[c]
	}
	out := []OpLatency{}
	for c, h := range classes {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		l := OpLatency{
			Class: classNames[c],
			Ops:   h.TotalCount(),
			P50:   micros(h.ValueAtQuantile(50)),
			P99:   micros(h.ValueAtQuantile(99)),
			P999:  micros(h.ValueAtQuantile(99.9)),
			Max:   micros(h.Max()),
		}
		l.Share = float64(l.Ops) / float64(total)
		if tailTotal > 0 {
			l.TailShare = float64(tails[c]) / float64(tailTotal)
		}
		out = append(out, l)
	}
	return out
}

// countAtLeast counts the values recorded in h at or above v, to h's
// resolution: a bucket counts when its highest value is at or above v,
// so the values of the bucket that holds v count.
func countAtLeast(h *hdrhistogram.Histogram, v int64) int64 {
	var n int64
	for _, b := range h.Distribution() {
		if b.Count > 0 && b.To >= v {
			n += b.Count
		}
	}
	return n
}
