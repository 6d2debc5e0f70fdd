package invalidation

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// item is one entry of a subscription's receive queue: an event, or a
// barrier that Flush waits on.
type item struct {
	ev      Event
	barrier chan struct{} // non-nil: closed once every earlier item is handled
}

// dispatcher owns one subscription's receive queue and the goroutine that
// calls its Handler. A Local bus's Publish never blocks on it: a full
// queue drops the event and signals a gap, so a slow handler costs
// freshness, never a stuck publisher. A Redis bus's receive loop waits a
// bounded time for room first (offerWait, RedisOptions.ReceiveWait).
type dispatcher struct {
	h     Handler
	sh    StatusHandler // h, if it implements StatusHandler; else nil
	c     *counters
	queue chan item
	// gap holds at most one pending gap. A signal that finds it full is
	// covered by the pending one, which is handled after both losses.
	gap chan struct{}
	// status holds at most one pending status change, whose value is
	// live; only the latest value counts.
	status   chan struct{}
	live     atomic.Bool
	reported bool // the last status reported to sh; owned by run
	stop     chan struct{}
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
}

// newDispatcher returns a dispatcher with a receive queue of size entries;
// the caller starts run in a goroutine.
func newDispatcher(h Handler, c *counters, size int) *dispatcher {
	sh, _ := h.(StatusHandler)
	return &dispatcher{
		h:      h,
		sh:     sh,
		c:      c,
		queue:  make(chan item, size),
		gap:    make(chan struct{}, 1),
		status: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// offer queues e for the handler without blocking. When the queue is full
// it drops e, counts it and signals a gap. Counters are bumped before the
// handler can see the event, so a handler (or a test it signals) never
// observes a count lagging behind its own call.
func (d *dispatcher) offer(e Event) {
	d.offerWait(e, 0)
}

// offerWait is offer for a receiver that may wait: when the queue is full
// it waits up to wait for room (not at all if wait <= 0) before it drops e
// and signals a gap. A Redis subscription's receive loop uses it: while it
// waits it does not read its connection, so Redis holds what is published
// meanwhile, and a burst that the handler absorbs within wait costs a
// delay instead of a gap (and a purge of the local tier). A dispatcher
// halted meanwhile ends the wait; the event is dropped without a gap, as
// nobody handles either any more.
func (d *dispatcher) offerWait(e Event, wait time.Duration) {
	d.c.received.Add(1)
	select {
	case d.queue <- item{ev: e}:
		return
	default:
	}
	if wait > 0 {
		d.c.receiveWaits.Add(1)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case d.queue <- item{ev: e}:
			return
		case <-d.stop:
			return
		case <-t.C:
		}
	}
	d.c.receiveDropped.Add(1)
	d.signalGap()
}

// signalGap asks for a HandleGap call without blocking.
func (d *dispatcher) signalGap() {
	select {
	case d.gap <- struct{}{}:
	default:
	}
}

// signalStatus records whether the subscription is live and asks for a
// HandleStatus call without blocking. A receiver reports a loss with
// signalStatus(false) then signalGap, and a re-subscription with signalGap
// then signalStatus(true); control keeps that order.
func (d *dispatcher) signalStatus(live bool) {
	if d.sh == nil {
		return
	}
	d.live.Store(live)
	select {
	case d.status <- struct{}{}:
	default:
	}
}

// run calls the handler until halt. Events and gaps are taken in whatever
// order they become ready: a purge is correct at any moment after the loss
// it reports, and events handled after it only evict.
func (d *dispatcher) run() {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		case <-d.gap:
			d.control(true)
		case <-d.status:
			d.control(false)
		case it := <-d.queue:
			if it.barrier != nil {
				// A gap signalled before the barrier was queued is
				// either handled already or still pending here.
				d.control(false)
				close(it.barrier)
				continue
			}
			d.c.handled.Add(1)
			d.h.HandleEvent(it.ev)
		}
	}
}

// control makes the HandleStatus and HandleGap calls that are pending,
// gapTaken saying that run has already taken a gap signal. A status change
// to "lost" is reported before the gap, one to "live" after it: the
// receiver signals a loss status first, and a re-subscription gap first,
// so whichever signal woke run, a handler never hears "live" before the
// gap that reports the events missed while it was not.
func (d *dispatcher) control(gapTaken bool) {
	if d.sh != nil {
		select {
		case <-d.status:
		default:
		}
	}
	live := d.sh != nil && d.live.Load()
	changed := d.sh != nil && live != d.reported
	if changed && !live {
		d.handleStatus(false)
	}
	if !gapTaken {
		select {
		case <-d.gap:
			gapTaken = true
		default:
		}
	}
	if gapTaken {
		d.handleGap()
	}
	if changed && live {
		d.handleStatus(true)
	}
}

// handleGap counts a HandleGap call and makes it.
func (d *dispatcher) handleGap() {
	d.c.gapsTotal.Add(1)
	d.h.HandleGap()
}

// handleStatus reports live to the StatusHandler.
func (d *dispatcher) handleStatus(live bool) {
	d.reported = live
	d.sh.HandleStatus(live)
}

// halt stops run and waits for the handler's last call to return. It is
// safe to call more than once and from several goroutines, but not from
// the handler itself.
func (d *dispatcher) halt() {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.done
}

// flush waits until every item queued before the call, and every gap
// signalled before it, has been handled. It returns nil early if the
// dispatcher is halted, and ctx's error if ctx ends first.
func (d *dispatcher) flush(ctx context.Context) error {
	b := make(chan struct{})
	select {
	case d.queue <- item{barrier: b}:
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-b:
		return nil
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
