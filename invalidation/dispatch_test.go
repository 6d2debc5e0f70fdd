package invalidation

import (
	"fmt"
	"testing"
	"time"
)

// logHandler is a StatusHandler that logs its calls and, for an event
// with key "block", waits for release before returning.
type logHandler struct {
	log     chan string
	entered chan struct{}
	release chan struct{}
}

func (h *logHandler) HandleEvent(e Event) {
	if e.Key == "block" {
		h.entered <- struct{}{}
		<-h.release
	}
	h.log <- "event " + e.Key
}

func (h *logHandler) HandleGap() { h.log <- "gap" }

func (h *logHandler) HandleStatus(live bool) { h.log <- fmt.Sprint("live=", live) }

// TestDispatcherStatusOrder signals status changes and gaps while the
// handler is busy, so that they are all pending at once, and checks the
// order in which the handler hears of them: a loss before its gap, a
// re-subscription's gap before "live", and a round trip it could not
// follow as one gap.
func TestDispatcherStatusOrder(t *testing.T) {
	h := &logHandler{log: make(chan string, 64), entered: make(chan struct{}), release: make(chan struct{})}
	var c counters
	d := newDispatcher(h, &c, 16)
	go d.run()
	defer d.halt()

	expect := func(want ...string) {
		t.Helper()
		for i, w := range want {
			select {
			case got := <-h.log:
				if got != w {
					t.Fatalf("call %d = %q, want %q (expecting %q)", i, got, w, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no call %q", w)
			}
		}
		select {
		case got := <-h.log:
			t.Fatalf("unexpected call %q after %q", got, want)
		default:
		}
	}
	// whileBusy runs signal while the handler is inside HandleEvent; the
	// event's log line comes first.
	whileBusy := func(signal func()) {
		t.Helper()
		d.offer(Event{Key: "block"})
		<-h.entered
		signal()
		h.release <- struct{}{}
	}

	d.signalStatus(true)
	expect("live=true")

	whileBusy(func() {
		d.signalStatus(false)
		d.signalGap()
	})
	expect("event block", "live=false", "gap")

	whileBusy(func() {
		d.signalGap()
		d.signalStatus(true)
	})
	expect("event block", "gap", "live=true")

	whileBusy(func() { // lost and back before the handler could listen
		d.signalStatus(false)
		d.signalGap()
		d.signalGap()
		d.signalStatus(true)
	})
	expect("event block", "gap")

	whileBusy(func() { d.signalStatus(true) }) // no change
	// Whichever of the two signals run takes first, only the gap is heard.
	d.signalGap()
	expect("event block", "gap")

	if got := c.gapsTotal.Load(); got != 4 {
		t.Fatalf("gaps counted = %d, want 4", got)
	}
}

// plainHandler is a Handler without HandleStatus.
type plainHandler struct{ log chan string }

func (h plainHandler) HandleEvent(e Event) { h.log <- "event " + e.Key }
func (h plainHandler) HandleGap()          { h.log <- "gap" }

func TestDispatcherWithoutStatusHandler(t *testing.T) {
	h := plainHandler{log: make(chan string, 8)}
	var c counters
	d := newDispatcher(h, &c, 16)
	go d.run()
	defer d.halt()
	d.signalStatus(true)
	d.signalStatus(false)
	d.signalGap()
	d.offer(Event{Key: "k"})
	got := map[string]bool{<-h.log: true, <-h.log: true}
	if !got["gap"] || !got["event k"] {
		t.Fatalf("calls = %v, want one gap and one event", got)
	}
}
