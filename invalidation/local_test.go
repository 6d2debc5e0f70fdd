package invalidation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
)

// blockingHandler holds its first event inside HandleEvent until release
// is closed, reporting on entered that it got there.
type blockingHandler struct {
	*recorder
	entered chan invalidation.Event
	release chan struct{}
	once    sync.Once
}

func newBlockingHandler() *blockingHandler {
	return &blockingHandler{
		recorder: newRecorder(),
		entered:  make(chan invalidation.Event, 1),
		release:  make(chan struct{}),
	}
}

func (h *blockingHandler) HandleEvent(e invalidation.Event) {
	h.once.Do(func() {
		h.entered <- e
		<-h.release
	})
	h.recorder.HandleEvent(e)
}

// waitEntered waits until the handler holds its first event.
func (h *blockingHandler) waitEntered(tb testing.TB) invalidation.Event {
	tb.Helper()
	select {
	case e := <-h.entered:
		return e
	case <-time.After(waitTimeout):
		tb.Fatalf("handler not entered within %v", waitTimeout)
		return invalidation.Event{}
	}
}

func TestLocalSemantics(t *testing.T) {
	tests := []struct {
		name      string
		queueSize int // LocalOptions.QueueSize; 0 means the default
		run       func(t *testing.T, bus *invalidation.Local)
	}{
		{"Flush waits for delivery", 0, func(t *testing.T, bus *invalidation.Local) {
			r := newRecorder()
			subscribe(t, bus, r)
			for v := range uint64(100) {
				mustPublish(t, bus, ev("k", v+1, invalidation.Changed, "a"))
			}
			if err := bus.Flush(testCtx(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if n := len(r.events); n != 100 {
				t.Fatalf("after Flush the handler has seen %d events, want 100", n)
			}
			if s := bus.Stats(); s.Published != 100 || s.Received != 100 || s.Handled != 100 {
				t.Fatalf("Stats = %+v, want 100 published, received and handled", s)
			}
		}},
		{"full queue drops, counts and signals a gap", 2, func(t *testing.T, bus *invalidation.Local) {
			h := newBlockingHandler()
			subscribe(t, bus, h)
			mustPublish(t, bus, ev("k", 1, invalidation.Changed, "a"))
			h.waitEntered(t)
			// The handler holds event 1; the queue (size 2) takes 2 and 3.
			for v := uint64(2); v <= 5; v++ {
				mustPublish(t, bus, ev("k", v, invalidation.Changed, "a"))
			}
			if s := bus.Stats(); s.ReceiveDropped != 2 || s.Received != 5 || s.Published != 5 {
				t.Fatalf("Stats = %+v, want 5 published and received, 2 of them dropped", s)
			}
			close(h.release)
			if err := bus.Flush(testCtx(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			h.expect(t,
				ev("k", 1, invalidation.Changed, "a"),
				ev("k", 2, invalidation.Changed, "a"),
				ev("k", 3, invalidation.Changed, "a"))
			h.gap(t)
			h.noPending(t) // two drops, one purge
			if s := bus.Stats(); s.Gaps != 1 || s.Handled != 3 {
				t.Fatalf("Stats = %+v, want 1 gap and 3 handled", s)
			}
		}},
		{"a slow handler does not block Publish or others", 0, func(t *testing.T, bus *invalidation.Local) {
			slow, fast := newBlockingHandler(), newRecorder()
			subscribe(t, bus, slow)
			subscribe(t, bus, fast)
			for v := uint64(1); v <= 10; v++ {
				mustPublish(t, bus, ev("k", v, invalidation.Changed, "a"))
			}
			slow.waitEntered(t)
			for v := uint64(1); v <= 10; v++ {
				fast.expect(t, ev("k", v, invalidation.Changed, "a"))
			}
			close(slow.release)
		}},
		{"every subscriber sees one order", 0, func(t *testing.T, bus *invalidation.Local) {
			r1, r2 := newRecorder(), newRecorder()
			subscribe(t, bus, r1)
			subscribe(t, bus, r2)
			var wg sync.WaitGroup
			for p := range 4 {
				wg.Go(func() {
					for v := range uint64(50) {
						_ = bus.Publish(context.Background(), ev(fmt.Sprint(p), v+1, invalidation.Changed, "a"))
					}
				})
			}
			wg.Wait()
			if err := bus.Flush(testCtx(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			seq1, seq2 := drain(r1), drain(r2)
			if len(seq1) != 200 || !slices.Equal(seq1, seq2) {
				t.Fatalf("subscribers saw different sequences (%d and %d events)", len(seq1), len(seq2))
			}
		}},
		{"Flush gives up when ctx ends", 0, func(t *testing.T, bus *invalidation.Local) {
			h := newBlockingHandler()
			subscribe(t, bus, h)
			mustPublish(t, bus, ev("k", 1, invalidation.Changed, "a"))
			h.waitEntered(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := bus.Flush(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Flush with a blocked handler = %v, want context.Canceled", err)
			}
			close(h.release)
		}},
		{"Flush after Close returns at once", 0, func(t *testing.T, bus *invalidation.Local) {
			subscribe(t, bus, newRecorder())
			_ = bus.Close()
			if err := bus.Flush(testCtx(t)); err != nil {
				t.Fatalf("Flush after Close = %v, want nil", err)
			}
		}},
		{"Subscribe rejects a nil handler", 0, func(t *testing.T, bus *invalidation.Local) {
			if _, err := bus.Subscribe(testCtx(t), nil); err == nil {
				t.Fatal("Subscribe(nil) succeeded")
			}
		}},
		{"Publish without subscribers", 0, func(t *testing.T, bus *invalidation.Local) {
			mustPublish(t, bus, ev("k", 1, invalidation.Changed, "a"))
			if s := bus.Stats(); s.Published != 1 || s.Received != 0 {
				t.Fatalf("Stats = %+v, want 1 published, 0 received", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := invalidation.NewLocal(invalidation.LocalOptions{QueueSize: tt.queueSize})
			t.Cleanup(func() { _ = bus.Close() })
			tt.run(t, bus)
		})
	}
}

// mustPublish publishes e and fails the test on error.
func mustPublish(tb testing.TB, bus invalidation.Bus, e invalidation.Event) {
	tb.Helper()
	if err := bus.Publish(context.Background(), e); err != nil {
		tb.Fatalf("Publish(%+v): %v", e, err)
	}
}

// drain returns the events r holds, without waiting.
func drain(r *recorder) []invalidation.Event {
	var out []invalidation.Event
	for {
		select {
		case e := <-r.events:
			out = append(out, e)
		default:
			return out
		}
	}
}
