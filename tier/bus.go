package tier

import (
	"context"

	"github.com/tiersession/tiersession/invalidation"
)

// subscribe attaches the Store to its bus.
func (s *Store) subscribe() error {
	unsub, err := s.opts.Bus.Subscribe(context.Background(), busHandler{s})
	if err != nil {
		return err
	}
	s.unsubscribe = unsub
	return nil
}

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
	applied := s.local.RemoveIfOlder(key, version)
	s.changed(key)
	return applied
}

// busHandler receives the bus's events for a Store.
type busHandler struct{ s *Store }

// HandleEvent applies one event from the bus.
func (h busHandler) HandleEvent(e invalidation.Event) {
	s := h.s
	s.stats.busReceived.Add(1)
	if e.Origin == s.opts.Origin {
		s.stats.busIgnored.Add(1)
		return
	}
	var applied bool
	switch e.Kind {
	case invalidation.Deleted:
		applied = s.local.Remove(e.Key)
	case invalidation.Touched:
		// Same version, later expiry: drop copies up to that version so
		// the next read picks up the new expiry.
		applied = s.local.RemoveIfOlder(e.Key, e.Version+1)
	default:
		applied = s.local.RemoveIfOlder(e.Key, e.Version)
	}
	// Whether or not a copy was cached, a read in flight may bring back
	// the version this event made obsolete.
	s.changed(e.Key)
	if applied {
		s.stats.busApplied.Add(1)
	} else {
		s.stats.busIgnored.Add(1)
	}
}

// HandleGap purges the local tier: events may have been missed.
func (h busHandler) HandleGap() {
	h.s.stats.busPurges.Add(1)
	h.s.changes.markAll()
	h.s.local.Purge()
}
