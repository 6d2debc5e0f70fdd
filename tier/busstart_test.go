package tier_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/tier"
)

// downBus is a Bus whose Subscribe fails while it is down, as a Redis bus
// does when Redis cannot be reached (the real one is tested against a
// real redis-server in the root package). It hands out the handler of the
// subscription that succeeds, so a test can play the bus's part.
type downBus struct {
	mu       sync.Mutex
	up       bool
	attempts chan struct{} // one value per Subscribe call
	handler  invalidation.Handler
}

func newDownBus() *downBus { return &downBus{attempts: make(chan struct{}, 1024)} }

func (b *downBus) Subscribe(ctx context.Context, h invalidation.Handler) (func(), error) {
	b.attempts <- struct{}{}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.up {
		return nil, errors.New("downBus: connection refused")
	}
	b.handler = h
	return func() {}, nil
}

func (b *downBus) Publish(context.Context, invalidation.Event) error { return nil }
func (b *downBus) Close() error                                      { return nil }

func (b *downBus) setUp() {
	b.mu.Lock()
	b.up = true
	b.mu.Unlock()
}

func (b *downBus) waitAttempt(t *testing.T) {
	t.Helper()
	select {
	case <-b.attempts:
	case <-time.After(10 * time.Second):
		t.Fatal("no Subscribe attempt within 10s")
	}
}

// TestStartsWithBusDown is issue 8.5: New returns while the bus cannot be
// reached, the Store serves without it, keeps trying in the background,
// and when the subscription comes up it purges what it cached meanwhile.
func TestStartsWithBusDown(t *testing.T) {
	f := newFixture()
	bus := newDownBus()
	s := f.store(t, nil, tier.Options{Bus: bus, BusWait: -1})
	if s.BusLive() {
		t.Fatal("BusLive with the bus down")
	}
	rec, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatalf("Create with the bus down: %v", err)
	}
	bus.waitAttempt(t)
	bus.waitAttempt(t) // a retry: the Store keeps trying
	if got := mustGet(t, s, rec.Key); got.Version != 1 {
		t.Fatalf("Get = %+v", got)
	}
	hits := s.Stats().LocalHits

	bus.setUp()
	deadline := time.Now().Add(10 * time.Second)
	for !s.BusLive() { // live once the purge that follows the subscription is done
		if time.Now().After(deadline) {
			t.Fatal("bus not live 10s after it came up")
		}
		time.Sleep(time.Millisecond)
	}
	st := s.Stats()
	if st.BusPurges != 1 || st.BusSubscribeErrors == 0 {
		t.Fatalf("BusPurges %d, subscribe errors %d; want a purge when the bus came up and the failed attempts counted", st.BusPurges, st.BusSubscribeErrors)
	}
	// The purge dropped the copy cached while events could be missed.
	mustGet(t, s, rec.Key)
	if got := s.Stats().LocalHits; got != hits {
		t.Fatalf("Get after the bus came up was a local hit; want a reload (hits %d then %d, stats %+v)", hits, got, s.Stats())
	}
	// The handler it subscribed works: an event from another node evicts.
	bus.handler.HandleEvent(invalidation.Event{Key: rec.Key, Version: 2, Kind: invalidation.Changed, Origin: "other"})
	if st := s.Stats(); st.BusApplied != 1 {
		t.Fatalf("BusApplied = %d; want 1", st.BusApplied)
	}
}

// TestCloseWhileBusDown: Close stops the background attempts (goleak in
// TestMain checks that no goroutine is left).
func TestCloseWhileBusDown(t *testing.T) {
	f := newFixture()
	bus := newDownBus()
	start := time.Now()
	s, err := tier.New(f.remote, tier.Options{Bus: bus, BusWait: 50 * time.Millisecond, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("New returned before BusWait with the bus down")
	}
	bus.waitAttempt(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGapPurgesAreRateLimited: a burst of gaps costs one purge at once and
// one at the end of MinPurgeInterval, never one per gap, and the deferred
// purge still drops what was cached after the gap.
func TestGapPurgesAreRateLimited(t *testing.T) {
	f := newFixture()
	bus := newDownBus()
	bus.setUp()
	s := f.store(t, nil, tier.Options{Bus: bus, MinPurgeInterval: 100 * time.Millisecond})
	if !s.BusLive() {
		t.Fatal("bus not live after New with the bus up")
	}
	if st := s.Stats(); st.BusPurges != 1 || st.BusGaps != 1 {
		t.Fatalf("after subscribing: purges %d, gaps %d; want 1 and 1", st.BusPurges, st.BusGaps)
	}
	for range 5 {
		bus.handler.HandleGap()
	}
	rec, err := s.Create(f.ctx, f.record(t, "cached after the gaps"))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.BusPurges != 1 || st.BusGaps != 6 {
		t.Fatalf("right after 5 more gaps: purges %d, gaps %d; want 1 (deferred) and 6", st.BusPurges, st.BusGaps)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().BusPurges < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no deferred purge 10s after the gaps")
		}
		time.Sleep(5 * time.Millisecond) // waiting out MinPurgeInterval
	}
	hits := s.Stats().LocalHits
	mustGet(t, s, rec.Key)
	if s.Stats().LocalHits != hits {
		t.Fatal("a copy cached after the gaps survived the deferred purge")
	}
	if st := s.Stats(); st.BusPurges != 2 {
		t.Fatalf("purges = %d; want 2 for a burst of 6 gaps", st.BusPurges)
	}
}
