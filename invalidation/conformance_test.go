package invalidation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// nodes is what the conformance suite needs from a bus implementation:
// the buses of two nodes that see each other's events. For Local both are
// the same bus, as for two stores in one process.
type nodes struct {
	a, b invalidation.Bus
}

// implementations lists every Bus the suite runs against.
var implementations = []struct {
	name string
	new  func(t *testing.T) nodes
}{
	{"Local", func(t *testing.T) nodes {
		bus := invalidation.NewLocal(invalidation.LocalOptions{})
		t.Cleanup(func() { _ = bus.Close() })
		return nodes{a: bus, b: bus}
	}},
	{"Redis", func(t *testing.T) nodes {
		srv := redistest.Start(t)
		return nodes{
			a: newRedisBus(t, srv, invalidation.RedisOptions{}),
			b: newRedisBus(t, srv, invalidation.RedisOptions{}),
		}
	}},
}

// conformance lists the behaviour every Bus shares.
var conformance = []struct {
	name string
	run  func(t *testing.T, n nodes)
}{
	{"RoundTrip", testRoundTrip},
	{"OwnEventsDelivered", testOwnEventsDelivered},
	{"EveryHandlerGetsEveryEvent", testEveryHandler},
	{"OrderFromOnePublisher", testOrder},
	{"ConcurrentPublishers", testConcurrentPublishers},
	{"HandlerMayPublish", testHandlerMayPublish},
	{"Unsubscribe", testUnsubscribe},
	{"InvalidEvent", testInvalidEvent},
	{"Close", testClose},
}

func TestConformance(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) { c.run(t, impl.new(t)) })
			}
		})
	}
}

func testRoundTrip(t *testing.T, n nodes) {
	r := newRecorder()
	subscribe(t, n.b, r)
	want := ev(hashKey, 7, invalidation.Changed, "node-a")
	if err := n.a.Publish(testCtx(t), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	r.expect(t, want)
	waitFor(t, "Published to count the event", func() bool {
		return n.a.(statser).Stats().Published == 1
	})
	if s := n.b.(statser).Stats(); s.Received != 1 {
		t.Fatalf("receiving bus Stats.Received = %d, want 1", s.Received)
	}
	r.noPending(t)
}

func testOwnEventsDelivered(t *testing.T, n nodes) {
	r := newRecorder()
	subscribe(t, n.a, r)
	want := ev(hashKey, 2, invalidation.Touched, "node-a")
	if err := n.a.Publish(testCtx(t), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	r.expect(t, want)
}

func testEveryHandler(t *testing.T, n nodes) {
	rs := []*recorder{newRecorder(), newRecorder(), newRecorder()}
	subscribe(t, n.a, rs[0])
	subscribe(t, n.b, rs[1])
	subscribe(t, n.b, rs[2])
	want := ev(hashKey, 3, invalidation.Deleted, "node-a")
	if err := n.a.Publish(testCtx(t), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for i, r := range rs {
		t.Logf("handler %d", i)
		r.expect(t, want)
	}
}

func testOrder(t *testing.T, n nodes) {
	r := newRecorder()
	subscribe(t, n.b, r)
	const count = 500
	for v := range uint64(count) {
		if err := n.a.Publish(testCtx(t), ev("k", v+1, invalidation.Changed, "a")); err != nil {
			t.Fatalf("Publish %d: %v", v+1, err)
		}
	}
	for v := range uint64(count) {
		if got := r.next(t); got.Version != v+1 {
			t.Fatalf("event %d has version %d, want %d", v, got.Version, v+1)
		}
	}
}

func testConcurrentPublishers(t *testing.T, n nodes) {
	r := newRecorder()
	subscribe(t, n.b, r)
	const publishers, each = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, publishers*each)
	for p := range publishers {
		wg.Go(func() {
			bus := n.a
			if p%2 == 1 {
				bus = n.b
			}
			for v := range uint64(each) {
				errs <- bus.Publish(context.Background(), ev(fmt.Sprint("key-", p), v+1, invalidation.Changed, "n"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	// Events of one publisher keep their order; across publishers any
	// interleaving is fine.
	last := map[string]uint64{}
	for range publishers * each {
		e := r.next(t)
		if e.Version != last[e.Key]+1 {
			t.Fatalf("%s: version %d after %d", e.Key, e.Version, last[e.Key])
		}
		last[e.Key] = e.Version
	}
	r.noPending(t)
}

// publishingHandler answers every Changed event by publishing a Touched one
// for the same key from inside HandleEvent.
type publishingHandler struct {
	*recorder
	bus  invalidation.Bus
	errs chan error
}

func (h publishingHandler) HandleEvent(e invalidation.Event) {
	if e.Kind == invalidation.Changed {
		h.errs <- h.bus.Publish(context.Background(), ev(e.Key, e.Version, invalidation.Touched, "b"))
	}
	h.recorder.HandleEvent(e)
}

func testHandlerMayPublish(t *testing.T, n nodes) {
	h := publishingHandler{recorder: newRecorder(), bus: n.b, errs: make(chan error, 1)}
	subscribe(t, n.b, h)
	if err := n.a.Publish(testCtx(t), ev("k", 1, invalidation.Changed, "a")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	h.expect(t, ev("k", 1, invalidation.Changed, "a"), ev("k", 1, invalidation.Touched, "b"))
	if err := <-h.errs; err != nil {
		t.Fatalf("Publish from a handler: %v", err)
	}
}

func testUnsubscribe(t *testing.T, n nodes) {
	gone, stays := newRecorder(), newRecorder()
	unsubscribe := subscribe(t, n.b, gone)
	subscribe(t, n.b, stays)
	unsubscribe()
	unsubscribe() // a second call is harmless
	if err := n.a.Publish(testCtx(t), ev("k", 1, invalidation.Changed, "a")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	stays.expect(t, ev("k", 1, invalidation.Changed, "a"))
	// unsubscribe returned after the handler's last call, so nothing can
	// have reached it since.
	gone.noPending(t)
}

func testInvalidEvent(t *testing.T, n nodes) {
	for _, e := range []invalidation.Event{
		ev("", 1, invalidation.Changed, "a"),
		ev("k", 1, 0, "a"),
	} {
		if err := n.a.Publish(testCtx(t), e); !errors.Is(err, invalidation.ErrInvalid) {
			t.Errorf("Publish(%+v) = %v, want ErrInvalid", e, err)
		}
	}
}

func testClose(t *testing.T, n nodes) {
	r := newRecorder()
	unsubscribe := subscribe(t, n.b, r)
	for _, bus := range []invalidation.Bus{n.a, n.b} {
		if err := bus.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := bus.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := bus.Publish(testCtx(t), ev("k", 1, invalidation.Changed, "a")); !errors.Is(err, invalidation.ErrClosed) {
			t.Fatalf("Publish after Close = %v, want ErrClosed", err)
		}
		if _, err := bus.Subscribe(testCtx(t), newRecorder()); !errors.Is(err, invalidation.ErrClosed) {
			t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
		}
	}
	unsubscribe() // after Close it is harmless
	r.noPending(t)
}
