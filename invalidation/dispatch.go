package invalidation

import (
	"context"
	"sync"
)

// item is one entry of a subscription's receive queue: an event, or a
// barrier that Flush waits on.
type item struct {
	ev      Event
	barrier chan struct{} // non-nil: closed once every earlier item is handled
}

// dispatcher owns one subscription's receive queue and the goroutine that
// calls its Handler. Receivers (a Local bus's Publish, a Redis bus's
// receive loop) never block on it: a full queue drops the event and
// signals a gap, so a slow handler costs freshness, never a stuck
// publisher or a stuck Redis connection.
type dispatcher struct {
	h     Handler
	c     *counters
	queue chan item
	// gap holds at most one pending gap. A signal that finds it full is
	// covered by the pending one, which is handled after both losses.
	gap      chan struct{}
	stop     chan struct{}
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
}

// newDispatcher returns a dispatcher with a receive queue of size entries;
// the caller starts run in a goroutine.
func newDispatcher(h Handler, c *counters, size int) *dispatcher {
	return &dispatcher{
		h:     h,
		c:     c,
		queue: make(chan item, size),
		gap:   make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// offer queues e for the handler without blocking. When the queue is full
// it drops e, counts it and signals a gap. Counters are bumped before the
// handler can see the event, so a handler (or a test it signals) never
// observes a count lagging behind its own call.
func (d *dispatcher) offer(e Event) {
	d.c.received.Add(1)
	select {
	case d.queue <- item{ev: e}:
	default:
		d.c.receiveDropped.Add(1)
		d.signalGap()
	}
}

// signalGap asks for a HandleGap call without blocking.
func (d *dispatcher) signalGap() {
	select {
	case d.gap <- struct{}{}:
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
			d.handleGap()
		case it := <-d.queue:
			if it.barrier != nil {
				// A gap signalled before the barrier was queued is
				// either handled already or still pending here.
				select {
				case <-d.gap:
					d.handleGap()
				default:
				}
				close(it.barrier)
				continue
			}
			d.c.handled.Add(1)
			d.h.HandleEvent(it.ev)
		}
	}
}

// handleGap counts a HandleGap call and makes it.
func (d *dispatcher) handleGap() {
	d.c.gapsTotal.Add(1)
	d.h.HandleGap()
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
