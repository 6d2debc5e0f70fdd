package invalidation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// pipelineGate is a go-redis hook that holds every pipeline (the Redis
// bus publishes through pipelines) until open is closed, reporting each
// one on entered. It stands for Redis being slow or unreachable, without
// timing.
type pipelineGate struct {
	entered chan struct{}
	open    chan struct{}
}

func newPipelineGate() *pipelineGate {
	return &pipelineGate{entered: make(chan struct{}, 64), open: make(chan struct{})}
}

func (g *pipelineGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *pipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (g *pipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.entered <- struct{}{}
		<-g.open
		return next(ctx, cmds)
	}
}

// waitEntered waits until a pipeline is held at the gate.
func (g *pipelineGate) waitEntered(tb testing.TB) {
	tb.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitTimeout):
		tb.Fatalf("no pipeline reached the gate within %v", waitTimeout)
	}
}

func TestRedisFullQueueDropsWithoutBlocking(t *testing.T) {
	srv := redistest.Start(t)
	gate := newPipelineGate()
	const queueSize = 8
	a := newRedisBus(t, srv, invalidation.RedisOptions{QueueSize: queueSize}, gate)
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newRecorder()
	subscribe(t, b, r)

	// Event 0 is taken by the publisher, which then blocks at the gate.
	mustPublish(t, a, ev("k", 0, invalidation.Changed, "a"))
	gate.waitEntered(t)
	for v := uint64(1); v <= queueSize; v++ {
		mustPublish(t, a, ev("k", v, invalidation.Changed, "a"))
	}
	// The queue is full: every further Publish returns at once, dropped.
	const extra = 5
	for v := uint64(queueSize + 1); v <= queueSize+extra; v++ {
		if err := a.Publish(testCtx(t), ev("k", v, invalidation.Changed, "a")); !errors.Is(err, invalidation.ErrDropped) {
			t.Fatalf("Publish %d on a full queue = %v, want ErrDropped", v, err)
		}
	}
	if got := a.Stats().Dropped; got != extra {
		t.Fatalf("Stats.Dropped = %d, want %d", got, extra)
	}

	close(gate.open)
	for v := uint64(0); v <= queueSize; v++ {
		r.expect(t, ev("k", v, invalidation.Changed, "a"))
	}
	// The dropped events never arrive: the next one is the sentinel.
	sentinel := ev("sentinel", 1, invalidation.Changed, "a")
	mustPublish(t, a, sentinel)
	r.expect(t, sentinel)
	waitFor(t, "Published to count every sent event", func() bool {
		return a.Stats().Published == queueSize+2
	})
	if s := a.Stats(); s.PublishErrors != 0 || s.Dropped != extra {
		t.Fatalf("Stats = %+v, want no publish errors and %d drops", s, extra)
	}
}

func TestRedisCloseFlushesQueue(t *testing.T) {
	tests := []struct {
		name         string
		flushTimeout time.Duration
		wantSent     uint64 // of the 4 published
		wantDropped  uint64
	}{
		{name: "default flushes", flushTimeout: 0, wantSent: 4},
		{name: "negative discards", flushTimeout: -1, wantSent: 1, wantDropped: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			gate := newPipelineGate()
			a := newRedisBus(t, srv, invalidation.RedisOptions{FlushTimeout: tt.flushTimeout}, gate)
			b := newRedisBus(t, srv, invalidation.RedisOptions{})
			r := newRecorder()
			subscribe(t, b, r)

			mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
			gate.waitEntered(t)
			for v := uint64(2); v <= 4; v++ {
				mustPublish(t, a, ev("k", v, invalidation.Changed, "a"))
			}
			closed := make(chan struct{})
			go func() {
				_ = a.Close()
				close(closed)
			}()
			// Probe with an invalid event, which is never queued: Publish
			// answers ErrClosed instead of ErrInvalid once Close has begun.
			waitFor(t, "Close to stop Publish", func() bool {
				return errors.Is(a.Publish(context.Background(), invalidation.Event{}), invalidation.ErrClosed)
			})
			close(gate.open)
			<-closed

			for v := uint64(1); v <= tt.wantSent; v++ {
				r.expect(t, ev("k", v, invalidation.Changed, "a"))
			}
			sentinel := ev("sentinel", 1, invalidation.Changed, "b")
			mustPublish(t, b, sentinel)
			r.expect(t, sentinel)
			if s := a.Stats(); s.Published != tt.wantSent || s.Dropped != tt.wantDropped {
				t.Fatalf("Stats = %+v, want %d published, %d dropped", s, tt.wantSent, tt.wantDropped)
			}
		})
	}
}

// TestRedisPublishRetriesAfterFailure cuts the publisher off from Redis
// while the subscriber stays connected: the event published meanwhile must
// arrive once the publisher's path is back, since the subscriber saw no
// gap and would otherwise stay stale.
func TestRedisPublishRetriesAfterFailure(t *testing.T) {
	srv := redistest.Start(t)
	p := startProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	a := newRedisBusOn(t, client, invalidation.RedisOptions{})
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newRecorder()
	subscribe(t, b, r)

	p.setDown(true)
	mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
	mustPublish(t, a, ev("k", 2, invalidation.Changed, "a"))
	waitFor(t, "a failed send", func() bool { return a.Stats().PublishErrors >= 1 })
	p.setDown(false)

	r.expect(t, ev("k", 1, invalidation.Changed, "a"), ev("k", 2, invalidation.Changed, "a"))
	// Redis delivers before the publisher reads its reply.
	waitFor(t, "both events counted as published", func() bool { return a.Stats().Published == 2 })
	if got := a.Stats().Dropped; got != 0 {
		t.Fatalf("publisher Stats.Dropped = %d, want 0", got)
	}
	r.noPending(t) // the subscriber never lost its connection: no gap
}

func TestRedisCloseGivesUpOnUnreachableRedis(t *testing.T) {
	srv := redistest.Start(t)
	p := startProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	a := newRedisBusOn(t, client, invalidation.RedisOptions{FlushTimeout: 50 * time.Millisecond})

	p.setDown(true)
	for v := uint64(1); v <= 3; v++ {
		mustPublish(t, a, ev("k", v, invalidation.Changed, "a"))
	}
	waitFor(t, "a failed send", func() bool { return a.Stats().PublishErrors >= 1 })
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := a.Stats(); s.Dropped != 3 || s.Published != 0 {
		t.Fatalf("Stats after Close = %+v, want the 3 unsent events dropped", s)
	}
}

func TestRedisGapWhenRedisRestarts(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newRecorder()
	subscribe(t, b, r)
	mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
	r.expect(t, ev("k", 1, invalidation.Changed, "a"))
	r.noPending(t)

	srv.Stop()
	r.gap(t) // the connection was lost
	if got := b.Stats().Reconnects; got != 0 {
		t.Fatalf("Stats.Reconnects = %d while Redis is down, want 0", got)
	}

	srv.Restart()
	r.gap(t) // the subscription is back, and events sent meanwhile are lost
	if s := b.Stats(); s.Reconnects != 1 || s.Gaps != 2 {
		t.Fatalf("Stats = %+v, want 1 reconnect and 2 gaps", s)
	}

	mustPublish(t, a, ev("k", 2, invalidation.Changed, "a"))
	r.expect(t, ev("k", 2, invalidation.Changed, "a"))
	r.noPending(t)
}

func TestRedisSubscribeWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Subscribe(ctx, newRecorder()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe with Redis down = %v, want context.DeadlineExceeded", err)
	}

	// A Subscribe that is still waiting when Redis comes back succeeds,
	// without a gap: nothing was cached before it.
	r := newRecorder()
	type result struct {
		unsubscribe func()
		err         error
	}
	done := make(chan result, 1)
	go func() {
		unsubscribe, err := b.Subscribe(testCtx(t), r)
		done <- result{unsubscribe, err}
	}()
	srv.Restart()
	res := <-done
	if res.err != nil {
		t.Fatalf("Subscribe once Redis is back: %v", res.err)
	}
	defer res.unsubscribe()
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	mustPublish(t, a, ev("k", 1, invalidation.Deleted, "a"))
	r.expect(t, ev("k", 1, invalidation.Deleted, "a"))
	r.noPending(t)
}

func TestRedisSubscribeEndsWithClose(t *testing.T) {
	srv := redistest.Start(t)
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	srv.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := b.Subscribe(context.Background(), newRecorder())
		done <- err
	}()
	// Whether Close comes before Subscribe registers or while it waits for
	// Redis, Subscribe must end with ErrClosed.
	_ = b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, invalidation.ErrClosed) {
			t.Fatalf("Subscribe ended by Close = %v, want ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Subscribe still waiting after Close")
	}
}

// TestRedisReceiveOverflowIsAGap holds the handler while ten events
// arrive at a subscription whose receive queue holds one: past
// ReceiveWait (none at all, or 50ms) each event that finds no room is
// dropped, and the handler gets a gap.
func TestRedisReceiveOverflowIsAGap(t *testing.T) {
	for _, wait := range []time.Duration{-1, 50 * time.Millisecond} {
		t.Run(fmt.Sprintf("ReceiveWait %v", wait), func(t *testing.T) {
			srv := redistest.Start(t)
			a := newRedisBus(t, srv, invalidation.RedisOptions{})
			b := newRedisBus(t, srv, invalidation.RedisOptions{ReceiveQueueSize: 1, ReceiveWait: wait})
			h := newBlockingHandler()
			subscribe(t, b, h)

			mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
			h.waitEntered(t)
			for v := uint64(2); v <= 10; v++ {
				mustPublish(t, a, ev("k", v, invalidation.Changed, "a"))
			}
			// The handler holds event 1 and the queue holds event 2; the
			// other eight are dropped as they arrive, after waiting.
			waitFor(t, "eight receive drops", func() bool { return b.Stats().ReceiveDropped == 8 })
			if st := b.Stats(); (wait > 0) != (st.ReceiveWaits == 8) {
				t.Fatalf("ReceiveWaits = %d with ReceiveWait %v", st.ReceiveWaits, wait)
			}
			close(h.release)
			h.expect(t, ev("k", 1, invalidation.Changed, "a"), ev("k", 2, invalidation.Changed, "a"))
			h.gap(t)
			mustPublish(t, a, ev("k", 11, invalidation.Changed, "a"))
			h.expect(t, ev("k", 11, invalidation.Changed, "a"))
			h.noPending(t)
		})
	}
}

// TestRedisReceiveWaitAbsorbsBurst holds the handler until a burst has
// filled a one-event receive queue and the next event waits for room,
// then lets it go within ReceiveWait: every event is delivered, in order,
// and there is no gap (no purge).
func TestRedisReceiveWaitAbsorbsBurst(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	b := newRedisBus(t, srv, invalidation.RedisOptions{ReceiveQueueSize: 1, ReceiveWait: waitTimeout})
	h := newBlockingHandler()
	subscribe(t, b, h)
	release := sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(release) // before the bus closes, which waits for the handler

	mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
	h.waitEntered(t)
	var want []invalidation.Event
	for v := uint64(1); v <= 50; v++ {
		want = append(want, ev("k", v, invalidation.Changed, "a"))
		if v > 1 {
			mustPublish(t, a, want[v-1])
		}
	}
	// Event 1 in the handler, event 2 in the queue, event 3 waiting.
	waitFor(t, "an event waiting for room", func() bool { return b.Stats().ReceiveWaits >= 1 })
	release()
	h.expect(t, want...)
	h.noPending(t)
	if st := b.Stats(); st.ReceiveDropped != 0 || st.Gaps != 0 {
		t.Fatalf("Stats = %+v, want no drop and no gap", st)
	}
}

// TestRedisSilentConnectionIsReplaced points the subscriber at a proxy
// that stops forwarding without closing anything, as a dead network path
// does: the health check must notice, signal a gap and re-subscribe.
func TestRedisSilentConnectionIsReplaced(t *testing.T) {
	srv := redistest.Start(t)
	p := startProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: p.addr()})
	t.Cleanup(func() { _ = client.Close() })
	b := newRedisBusOn(t, client, invalidation.RedisOptions{HealthCheckInterval: 50 * time.Millisecond})
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newRecorder()
	subscribe(t, b, r)
	mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
	r.expect(t, ev("k", 1, invalidation.Changed, "a"))
	r.noPending(t)

	p.freeze() // connections open now go silent; new ones work
	r.gap(t)
	waitFor(t, "the subscription to be re-established", func() bool {
		return b.Stats().Reconnects == 1
	})
	mustPublish(t, a, ev("k", 2, invalidation.Changed, "a"))
	r.expect(t, ev("k", 2, invalidation.Changed, "a"))
	if got := b.Stats().Gaps; got < 1 || got > 2 {
		t.Fatalf("Stats.Gaps = %d, want 1 or 2 (loss and re-subscription may be reported together)", got)
	}
}
