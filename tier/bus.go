package tier

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tiersession/tiersession/invalidation"
)

// The states of a Store's bus subscription, as busState.live holds them.
const (
	busPending int32 = iota // not subscribed yet
	busLive                 // the bus says the subscription is live
	busLost                 // the bus says the subscription is lost
)

// subscribeBackoff bounds the wait between two failed Subscribe calls.
const (
	subscribeBackoffMin = 50 * time.Millisecond
	subscribeBackoffMax = 5 * time.Second
)

// busState is the Store's bus subscription.
type busState struct {
	live   atomic.Int32 // busPending, busLive or busLost
	cancel context.CancelFunc
	done   chan struct{} // closed when the subscribing goroutine returns
	unsub  func()        // written by that goroutine before done closes
}

// subscribe starts the goroutine that subscribes the Store to its bus,
// and waits up to Options.BusWait for it to succeed. A bus that cannot be
// reached must not stop a node from starting: until the subscription is
// live the Store runs without it (other nodes' writes reach it only
// through LocalTTL), and when it comes up the local tier is purged, since
// events were missed meanwhile.
func (s *Store) subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	s.bus.cancel = cancel
	s.bus.done = make(chan struct{})
	subscribed := make(chan struct{})
	go s.subscribeLoop(ctx, subscribed)
	if s.opts.BusWait <= 0 {
		return
	}
	t := time.NewTimer(s.opts.BusWait)
	defer t.Stop()
	select {
	case <-subscribed:
	case <-s.bus.done:
	case <-t.C:
	}
}

// subscribeLoop calls Subscribe until it succeeds, the bus is closed or
// the Store is.
func (s *Store) subscribeLoop(ctx context.Context, subscribed chan<- struct{}) {
	defer close(s.bus.done)
	backoff := subscribeBackoffMin
	for {
		unsub, err := s.opts.Bus.Subscribe(ctx, busHandler{s})
		if err == nil {
			s.bus.unsub = unsub
			// Events published before the subscription went live were
			// missed: forget what only their absence vouched for.
			busHandler{s}.HandleGap()
			// Live unless the bus has already said otherwise: a
			// HandleStatus(false) may have come first.
			s.bus.live.CompareAndSwap(busPending, busLive)
			close(subscribed)
			return
		}
		if ctx.Err() != nil || errors.Is(err, invalidation.ErrClosed) {
			return
		}
		s.stats.busSubscribeErrors.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, subscribeBackoffMax)
	}
}

// stop ends the subscription, or the attempts to make it, and waits for
// the subscribing goroutine.
func (b *busState) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	<-b.done
	if b.unsub != nil { // written before done closed
		b.unsub()
	}
}

// BusLive reports whether the Store's bus subscription is live: false
// before the first subscription succeeds and while the bus reports it lost
// (see invalidation.StatusHandler). A Store without a Bus reports false.
func (s *Store) BusLive() bool { return s.bus.live.Load() == busLive }

// publish tells other nodes about a successful write. Publishing is best
// effort: a failure to publish never fails the write (other nodes then
// converge within LocalTTL).
func (s *Store) publish(ctx context.Context, e invalidation.Event) {
	if s.opts.Bus == nil {
		return
	}
	e.Origin = s.opts.Origin
	if err := s.opts.Bus.Publish(ctx, e); err != nil {
		s.stats.busPublishErrors.Add(1)
		return
	}
	s.stats.busPublished.Add(1)
}

// Invalidate tells the Store that key changed at version on another node:
// a local copy older than version is dropped. Stores wired to a Bus get
// this from the bus; Invalidate is for wiring your own transport.
func (s *Store) Invalidate(key string, version uint64) bool {
	var applied bool
	s.change(key, func() { applied = s.local.RemoveIfOlder(key, version) })
	return applied
}

// busHandler receives the bus's events for a Store.
type busHandler struct{ s *Store }

var _ invalidation.StatusHandler = busHandler{}

// HandleEvent applies one event from the bus.
func (h busHandler) HandleEvent(e invalidation.Event) {
	s := h.s
	s.stats.busReceived.Add(1)
	if e.Origin == s.opts.Origin {
		s.stats.busIgnored.Add(1)
		return
	}
	if e.Kind == invalidation.Revoked {
		// Key is an owner id: the owner's sessions created before
		// generation Version are gone (see owners.go). The knowledge is
		// trusted as a read of the remote would be.
		s.owners.stats.revokedReceived.Add(1)
		s.learn(e.Key, e.Version, s.owners.now())
		s.stats.busApplied.Add(1)
		return
	}
	var applied bool
	// Whether or not a copy was cached, a read in flight may bring back
	// the version this event made obsolete: the event is a change.
	s.change(e.Key, func() {
		switch e.Kind {
		case invalidation.Deleted:
			applied = s.local.Remove(e.Key)
		case invalidation.Touched:
			// Same version, later expiry: drop copies up to that version
			// so the next read picks up the new expiry.
			applied = s.local.RemoveIfOlder(e.Key, e.Version+1)
		default:
			applied = s.local.RemoveIfOlder(e.Key, e.Version)
		}
	})
	if applied {
		s.stats.busApplied.Add(1)
	} else {
		s.stats.busIgnored.Add(1)
	}
}

// HandleGap purges the local tier, since events may have been missed; at
// most once per Options.MinPurgeInterval (see purger).
func (h busHandler) HandleGap() {
	h.s.stats.busGaps.Add(1)
	h.s.purges.request()
}

// HandleStatus records whether the subscription is live. The first
// "live" is the subscribing goroutine's to record, after its purge; the
// bus's own may come earlier and is ignored.
func (h busHandler) HandleStatus(live bool) {
	if live {
		h.s.bus.live.CompareAndSwap(busLost, busLive)
	} else {
		h.s.bus.live.Store(busLost)
	}
}

// purge empties the local tier as one change of every key: no load in
// flight installs what it read before the purge. It forgets the owners'
// generations too: Revoked events may have been missed.
func (s *Store) purge() {
	s.changeAll(func() {
		s.local.Purge()
		s.owners.reset()
	})
	s.stats.busPurges.Add(1)
}
