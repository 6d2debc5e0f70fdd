package invalidation_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// Flow control of BenchmarkRedisFanout. The publisher keeps at most
// fanoutWindow chunks of fanoutChunk events in flight, that is published
// but not yet received by every subscriber: 1024 events, a quarter of the
// default publish queue and of each subscription's receive queue
// (DefaultQueueSize, 4096). The rate measured is therefore the rate at
// which every node gets every event, limited by Redis and the subscribers,
// never inflated by events piling up in a queue or dropped from one.
const (
	fanoutChunk  = 256
	fanoutWindow = 4
)

// fanoutSubscribers are the fleet sizes the fan-out benchmarks measure.
var fanoutSubscribers = []int{1, 2, 4, 8, 16, 32}

// BenchmarkRedisFanout measures how many events one redis-server delivers
// per second to N subscribing nodes: every write is delivered to every
// node, so bus traffic is writes × nodes. One publisher bus and N
// subscriber buses, each on its own client and connection as separate
// nodes would be, all signing and verifying with a real HMAC key, use the
// bus's real Redis implementation: Publish queues, one goroutine sends
// pipelines of up to DefaultBatchSize PUBLISH commands, each subscription
// verifies every message and hands it to its handler goroutine.
//
// b.N events are published, under the flow control above, and the
// benchmark waits until every subscriber has received every one of them
// (each wait bounded by waitTimeout, which fails the benchmark). Run it
// with a fixed count of 100,000 events per size; with
// BenchmarkRedisFanoutBurst, which the same pattern selects, all twelve
// runs take 25 to 45 s on the 2-core machine, depending on its load:
//
//	go test -run '^$' -bench RedisFanout -benchtime 100000x ./invalidation/
//
// Metrics: ns/op is the time per event until all N subscribers have it;
// deliveries/s is events × N / elapsed, events/s the published rate;
// drops counts deliveries that never came (events × N minus the distinct
// events the subscribers handled) and dups those that came twice (a
// retried pipeline), both expected 0 here; gaps counts HandleGap calls.
// redis-cores is the CPU redis-server used (INFO cpu, user and system) in
// cores, redis-ns/delivery the same CPU time per delivery, and go-cores
// the CPU of this process (the publisher and all N subscribers;
// getrusage, on Unix only). On a machine with few cores the subscribers
// compete with redis-server for the CPU: when redis-cores stays well
// under 1 while the machine is busy and deliveries/s levels off, the
// limit is the simulated nodes, not Redis.
func BenchmarkRedisFanout(b *testing.B) {
	benchFanoutSizes(b, fanoutWindow)
}

// BenchmarkRedisFanoutBurst is BenchmarkRedisFanout without flow control:
// the publisher queues all b.N events at once (its queue is made large
// enough that Publish never drops) and the subscriptions keep their
// default receive queues. It shows what the bus does when events arrive
// faster than the subscribers take them: whether subscriptions drop
// (drops, gaps: each overflow of a receive queue is a gap, for which a
// tier purges its local cache) rather than only lag. Before
// RedisOptions.ReceiveWait, a full receive queue dropped at once, and 4
// of 24 runs at 100000x had a gap; since, a full queue makes the
// subscription wait for room (18 of 18 runs without a drop). The burst waits in
// the publish queue, Redis's output buffers and the subscriptions'
// receive queues; keep it well under Redis's default pubsub output
// limit (32 MB at once or 8 MB for a minute: some 200,000 events queued
// for one lagging subscriber), past which Redis closes the subscriber's
// connection and the benchmark fails on the lost events.
//
//	go test -run '^$' -bench RedisFanoutBurst -benchtime 100000x ./invalidation/
func BenchmarkRedisFanoutBurst(b *testing.B) {
	benchFanoutSizes(b, 0)
}

// benchFanoutSizes runs one sub-benchmark per fleet size on one
// redis-server; window is in chunks, 0 for none.
func benchFanoutSizes(b *testing.B, window int) {
	srv := redistest.Start(b)
	admin := srv.NewClient(nil)
	for _, n := range fanoutSubscribers {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			benchFanout(b, srv, admin, n, window)
		})
	}
}

// benchFanout runs one size of a fan-out benchmark.
func benchFanout(b *testing.B, srv *redistest.Server, admin *redis.Client, n, window int) {
	// A channel of its own per run, so that nothing left of an earlier run
	// of the same size can be counted.
	opts := invalidation.RedisOptions{Channel: fmt.Sprintf("tiersession:bench:fanout:%d:%d:%d", window, n, b.N)}
	pubOpts := opts
	if window == 0 {
		pubOpts.QueueSize = b.N
	}
	pub := newRedisBus(b, srv, pubOpts)
	run := newFanoutRun(b.N, n)
	for range n {
		bus := newRedisBus(b, srv, opts)
		h := &fanoutHandler{run: run, bus: bus}
		run.subs = append(run.subs, h)
		subscribe(b, bus, h)
	}
	if got := admin.PubSubNumSub(testCtx(b), opts.Channel).Val()[opts.Channel]; got != int64(n) {
		b.Fatalf("PUBSUB NUMSUB = %d, want %d subscribers", got, n)
	}
	if window == 0 {
		window = len(run.chunks)
	}

	ctx := context.Background()
	redisCPU0 := redisCPUSeconds(b, admin)
	goCPU0, goCPUOK := processCPUSeconds()
	b.ResetTimer()
	start := time.Now()
	for c := range run.chunks {
		if c >= window {
			run.wait(b, c-window, pub)
		}
		first, end := run.bounds(c)
		for v := first; v < end; v++ {
			e := invalidation.Event{Key: hashKey, Version: v, Kind: invalidation.Changed, Origin: "publisher"}
			if err := pub.Publish(ctx, e); err != nil {
				// The queue has room for every event in flight: a drop here
				// means the flow control is broken, not a finding.
				b.Fatalf("Publish of event %d: %v", v, err)
			}
		}
	}
	for c := max(0, len(run.chunks)-window); c < len(run.chunks); c++ {
		run.wait(b, c, pub)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	redisCPU := redisCPUSeconds(b, admin) - redisCPU0
	goCPU, _ := processCPUSeconds()

	var unique, dups, gaps uint64
	for _, h := range run.subs {
		unique += h.unique.Load()
		dups += h.dups.Load()
		gaps += h.gaps.Load()
	}
	sec := elapsed.Seconds()
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(deliveries/sec, "deliveries/s")
	b.ReportMetric(float64(b.N)/sec, "events/s")
	b.ReportMetric(deliveries-float64(unique), "drops")
	b.ReportMetric(float64(dups), "dups")
	b.ReportMetric(float64(gaps), "gaps")
	b.ReportMetric(redisCPU/sec, "redis-cores")
	b.ReportMetric(redisCPU*1e9/deliveries, "redis-ns/delivery")
	if goCPUOK {
		b.ReportMetric((goCPU-goCPU0)/sec, "go-cores")
	}
}

// fanoutRun tracks, for one run, which chunks of events every subscriber
// is done with. Chunk c holds the events whose Version (their sequence
// number) is in [c*fanoutChunk, (c+1)*fanoutChunk), the last one fewer.
type fanoutRun struct {
	total  uint64
	chunks []fanoutChunkState
	subs   []*fanoutHandler
}

// fanoutChunkState counts the subscribers not yet done with a chunk.
type fanoutChunkState struct {
	remaining atomic.Int64
	done      chan struct{} // closed when remaining reaches 0
}

// newFanoutRun returns the tracker of a run of events for subscribers.
func newFanoutRun(events, subscribers int) *fanoutRun {
	r := &fanoutRun{
		total:  uint64(events),
		chunks: make([]fanoutChunkState, (events+fanoutChunk-1)/fanoutChunk),
	}
	for i := range r.chunks {
		r.chunks[i].remaining.Store(int64(subscribers))
		r.chunks[i].done = make(chan struct{})
	}
	return r
}

// bounds returns the sequence numbers of chunk c: [first, end).
func (r *fanoutRun) bounds(c int) (first, end uint64) {
	first = uint64(c) * fanoutChunk
	return first, min(first+fanoutChunk, r.total)
}

// passed records that one subscriber is done with chunk c.
func (r *fanoutRun) passed(c int) {
	if r.chunks[c].remaining.Add(-1) == 0 {
		close(r.chunks[c].done)
	}
}

// wait blocks until every subscriber is done with chunk c, failing the
// benchmark with the buses' counters if that takes longer than
// waitTimeout (events lost with a connection never reach a subscription).
func (r *fanoutRun) wait(b *testing.B, c int, pub *invalidation.Redis) {
	select {
	case <-r.chunks[c].done:
		return
	case <-time.After(waitTimeout):
	}
	var sum invalidation.Stats
	for _, h := range r.subs {
		st := h.bus.Stats()
		sum.Received += st.Received
		sum.Handled += st.Handled
		sum.ReceiveDropped += st.ReceiveDropped
		sum.Reconnects += st.Reconnects
		sum.Gaps += st.Gaps
	}
	b.Fatalf("chunk %d of %d not done by %d of %d subscribers within %v; publisher %+v; "+
		"subscribers summed: received %d, handled %d, receive-dropped %d, reconnects %d, gaps %d",
		c, len(r.chunks), r.chunks[c].remaining.Load(), len(r.subs), waitTimeout, pub.Stats(),
		sum.Received, sum.Handled, sum.ReceiveDropped, sum.Reconnects, sum.Gaps)
}

// fanoutHandler is one subscriber of a fanoutRun, the only handler of its
// bus. The bus calls it from one goroutine, so next and lossy need no
// synchronisation; the counters are read by the benchmark.
type fanoutHandler struct {
	run   *fanoutRun
	bus   *invalidation.Redis
	next  uint64 // the sequence number expected next
	lossy bool   // a gap was seen: the last events may never come

	unique, dups, gaps atomic.Uint64
}

// HandleEvent counts e: a sequence number below next is a repeat (one
// past the run cannot happen and is counted with them), one above it
// means the ones in between were lost. Either way every chunk that now
// lies behind next is done for this subscriber.
func (h *fanoutHandler) HandleEvent(e invalidation.Event) {
	if v := e.Version; v < h.next || v >= h.run.total {
		h.dups.Add(1)
	} else {
		h.unique.Add(1)
		h.advance(v + 1)
	}
	if h.lossy {
		h.settle()
	}
}

// HandleGap counts the gap. The loss it reports may be of the last events
// of the run, which no later event would reveal: settle checks for that.
func (h *fanoutHandler) HandleGap() {
	h.gaps.Add(1)
	h.lossy = true
	h.settle()
}

// advance moves next to v, passing every chunk that ends at or before it.
func (h *fanoutHandler) advance(v uint64) {
	old := h.next
	h.next = v
	for c := int(old / fanoutChunk); c < len(h.run.chunks); c++ {
		if _, end := h.run.bounds(c); end > v {
			break
		}
		h.run.passed(c)
	}
}

// settle passes every remaining chunk once every event of the run has
// reached the subscription and been either handled or dropped by a full
// receive queue. A drop is counted before the gap it causes is signalled,
// and the handler is called after that, so the call following the last
// drop or the last event sees the final counts.
func (h *fanoutHandler) settle() {
	if h.next == h.run.total {
		return
	}
	if st := h.bus.Stats(); st.Handled+st.ReceiveDropped >= h.run.total {
		h.advance(h.run.total)
	}
}

// redisCPUSeconds returns the CPU time redis-server has used so far, user
// and system, from INFO cpu.
func redisCPUSeconds(b *testing.B, admin *redis.Client) float64 {
	info, err := admin.Info(testCtx(b), "cpu").Result()
	if err != nil {
		b.Fatalf("INFO cpu: %v", err)
	}
	var sum float64
	for line := range strings.Lines(info) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			b.Fatalf("INFO cpu: %s: %v", line, err)
		}
		sum += f
	}
	return sum
}
