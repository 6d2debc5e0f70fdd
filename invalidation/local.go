package invalidation

import (
	"context"
	"errors"
	"sync"
)

// DefaultQueueSize is the size of publish and receive queues when the
// options leave it zero.
const DefaultQueueSize = 4096

// LocalOptions configures NewLocal. The zero value is ready to use.
type LocalOptions struct {
	// QueueSize is the receive queue of each subscription, in events.
	// When a handler falls that far behind, further events for it are
	// dropped (Stats.ReceiveDropped) and it gets HandleGap. Default
	// DefaultQueueSize.
	QueueSize int
}

// Local is an in-process Bus for several tier stores in one process:
// tests, benchmarks and single binaries.
//
// Publish never blocks: it queues the event for every current subscriber
// and returns. Each subscription has its own goroutine that calls its
// handler, so a handler may publish (it will receive its own event later)
// and a slow handler delays only itself. Every subscriber receives events
// in one order, the order in which Publish calls took effect; events that
// one goroutine publishes arrive in program order. Flush waits until
// delivery has caught up, which is what tests want instead of sleeping.
type Local struct {
	opts LocalOptions
	c    counters

	mu     sync.Mutex
	subs   map[*dispatcher]struct{}
	closed bool
}

var _ Bus = (*Local)(nil)

// NewLocal returns an in-process bus; Close stops its goroutines.
func NewLocal(opts LocalOptions) *Local {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	return &Local{opts: opts, subs: make(map[*dispatcher]struct{})}
}

// Publish queues e for every current subscriber and returns without
// waiting for them. A subscriber whose queue is full misses e and gets a
// gap instead; Publish still returns nil. ctx is not used: Publish never
// waits.
func (l *Local) Publish(_ context.Context, e Event) error {
	// The lock makes every subscriber see the same order. offer never
	// blocks, so holding it is cheap and a handler that publishes cannot
	// deadlock against its own dispatcher.
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := e.validate(); err != nil {
		return err
	}
	for d := range l.subs {
		d.offer(e)
	}
	l.c.published.Add(1)
	return nil
}

// Subscribe starts delivering events published from now on to h. It
// returns at once: a local subscription is live as soon as it exists.
func (l *Local) Subscribe(_ context.Context, h Handler) (func(), error) {
	if h == nil {
		return nil, errors.New("invalidation: Subscribe: nil handler")
	}
	d := newDispatcher(h, &l.c, l.opts.QueueSize)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.subs[d] = struct{}{}
	l.mu.Unlock()
	go d.run()

	unsubscribe := func() {
		l.mu.Lock()
		delete(l.subs, d)
		l.mu.Unlock()
		d.halt()
	}
	return unsubscribe, nil
}

// Flush waits until every subscriber has handled every event published,
// and every gap signalled, before Flush was called. It returns ctx's error
// if ctx ends first, and nil at once after Close. Flush must not be called
// from a handler.
func (l *Local) Flush(ctx context.Context) error {
	l.mu.Lock()
	subs := make([]*dispatcher, 0, len(l.subs))
	for d := range l.subs {
		subs = append(subs, d)
	}
	l.mu.Unlock()
	for _, d := range subs {
		if err := d.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close ends every subscription, waiting for running handler calls to
// return. Events still queued are discarded. Close is safe to call twice;
// it must not be called from a handler.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	subs := l.subs
	l.subs = nil
	l.mu.Unlock()
	for d := range subs {
		d.halt()
	}
	return nil
}

// Stats returns a snapshot of the bus's counters. Received, Handled,
// ReceiveDropped and Gaps are summed over all subscriptions.
func (l *Local) Stats() Stats { return l.c.snapshot() }
