package tiersession_test

import (
	"context"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/tier"
)

// observedBus lets a test wait for what a node's handler has done: each
// event and gap is reported after the tier's own handler returned.
type observedBus struct {
	*invalidation.Redis
	events chan invalidation.Event
	gaps   chan invalidation.Stats // the bus's counters when the gap was handled
}

func (o *observedBus) Subscribe(ctx context.Context, h invalidation.Handler) (func(), error) {
	return o.Redis.Subscribe(ctx, observer{h, o})
}

type observer struct {
	h invalidation.Handler
	o *observedBus
}

func (x observer) HandleEvent(e invalidation.Event) {
	x.h.HandleEvent(e)
	x.o.events <- e
}

func (x observer) HandleStatus(live bool) {
	if sh, ok := x.h.(invalidation.StatusHandler); ok {
		sh.HandleStatus(live)
	}
}

func (x observer) HandleGap() {
	x.h.HandleGap()
	x.o.gaps <- x.o.Stats()
}

// waitEvent waits until the node has handled an event for key at version.
func (o *observedBus) waitEvent(t testing.TB, key string, version uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-o.events:
			if e.Key == key && e.Version == version {
				return
			}
		case <-deadline:
			t.Fatalf("no event for version %d within 10s", version)
		}
	}
}

// waitGap waits until the node has handled a gap that satisfies ok.
func (o *observedBus) waitGap(t testing.TB, what string, ok func(invalidation.Stats) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case st := <-o.gaps:
			if ok(st) {
				return
			}
		case <-o.events:
		case <-deadline:
			t.Fatalf("no gap (%s) within 30s", what)
		}
	}
}

// busKeys authenticate the messages of the test clusters' buses.
var busKeys = []invalidation.Key{{ID: "test", Secret: []byte("0123456789abcdef0123456789abcdef")}}

// cluster is n nodes on one dynalite table, each with its own Redis client
// and bus on one redis-server.
func cluster(t testing.TB, tb *table, redis *redistest.Server, n int, opts tier.Options) ([]*tier.Store, []*observedBus) {
	t.Helper()
	nodes := make([]*tier.Store, n)
	buses := make([]*observedBus, n)
	for i := range nodes {
		rb, err := invalidation.NewRedis(redis.NewClient(nil), invalidation.RedisOptions{HealthCheckInterval: time.Second, Keys: busKeys})
		if err != nil {
			t.Fatal(err)
		}
		bus := &observedBus{
			Redis:  rb,
			events: make(chan invalidation.Event, 4096),
			gaps:   make(chan invalidation.Stats, 4096),
		}
		t.Cleanup(func() { bus.Close() }) // runs after the node's Close
		o := opts
		o.Bus = bus
		nodes[i] = tb.node(t, nil, o)
		buses[i] = bus
	}
	return nodes, buses
}

func TestWriteSeenByOtherNodes(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	nodes, buses := cluster(t, tb, redistest.Start(t), 3, tier.Options{LocalTTL: time.Hour})
	a, b, c := nodes[0], nodes[1], nodes[2]

	rec, err := a.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []*tier.Store{b, c} {
		buses[i+1].waitEvent(t, rec.Key, 1) // the create's event is handled...
		get(t, n, rec.Key)                  // ...before the read that caches it for an hour
	}
	rec.Data = []byte("v2")
	if _, err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*tier.Store{b, c} {
		buses[i+1].waitEvent(t, rec.Key, 2)
		if got := get(t, n, rec.Key); got.Version != 2 || string(got.Data) != "v2" {
			t.Fatalf("node %c reads %+v after the event; want version 2", 'b'+i, got)
		}
		if st := n.Stats(); st.BusApplied != 1 {
			t.Fatalf("node %c applied %d events; want 1", 'b'+i, st.BusApplied)
		}
	}
	buses[0].waitEvent(t, rec.Key, 2) // a hears its own event and ignores it
	if st := a.Stats(); st.BusPublished != 2 || st.BusApplied != 0 {
		t.Fatalf("node a: published %d, applied %d; want 2 and 0", st.BusPublished, st.BusApplied)
	}
}

func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	redis := redistest.Start(t)
	const ttl = 30 * time.Second
	nodes, buses := cluster(t, tb, redis, 2, tier.Options{LocalTTL: ttl})
	a, b := nodes[0], nodes[1]
	rec, err := a.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, rec.Key, 1)

	purges := b.Stats().BusPurges
	redis.Stop()
	buses[1].waitGap(t, "connection lost", func(invalidation.Stats) bool { return true })
	waitPurges(t, b, purges+1) // at once, or at the end of MinPurgeInterval
	if b.BusLive() {
		t.Fatal("b reports its bus live while Redis is down")
	}

	// Without the bus both nodes keep serving from DynamoDB and their
	// local tiers; b's staleness is bounded by the local TTL.
	get(t, b, rec.Key)
	rec.Data = []byte("v2 during the outage")
	if rec, err = a.Save(ctx, rec); err != nil {
		t.Fatalf("a write during the Redis outage failed: %v", err)
	}
	if got := get(t, b, rec.Key); got.Version != 1 {
		t.Fatalf("b reads version %d during the outage; want its cached version 1 (no event can arrive)", got.Version)
	}
	tb.clock.Advance(ttl)
	if got := get(t, b, rec.Key); got.Version != 2 {
		t.Fatalf("b reads version %d after the local TTL; want 2", got.Version)
	}

	redis.Restart()
	buses[1].waitGap(t, "re-subscribed", func(st invalidation.Stats) bool { return st.Reconnects >= 1 })
	waitPurges(t, b, purges+2)
	if n := b.Stats().LocalEntries; n != 0 {
		t.Fatalf("b holds %d entries after re-subscribing; want a purged local tier", n)
	}
	if !b.BusLive() {
		t.Fatal("b reports its bus down after re-subscribing")
	}
	get(t, b, rec.Key)
	rec.Data = []byte("v3 after the outage")
	if _, err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, rec.Key, 3)
	if got := get(t, b, rec.Key); got.Version != 3 {
		t.Fatalf("b reads version %d once events flow again; want 3", got.Version)
	}
}

// waitPurges waits until s has purged its local tier n times in all.
// Purges are rate-limited (tier.Options.MinPurgeInterval), so the one a gap
// asks for may come up to that interval later.
func waitPurges(t testing.TB, s *tier.Store, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().BusPurges < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d purges after 10s; want %d", s.Stats().BusPurges, n)
		}
		time.Sleep(5 * time.Millisecond) // polling a timer-driven purge
	}
}

func TestStaleAndDuplicateEvents(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	redis := redistest.Start(t)
	nodes, buses := cluster(t, tb, redis, 2, tier.Options{LocalTTL: time.Hour})
	a, b := nodes[0], nodes[1]
	rec, err := a.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	rec.Data = []byte("v2")
	if rec, err = a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, rec.Key, 2)
	get(t, b, rec.Key) // b caches version 2

	// Late, repeated and reordered events from a third publisher.
	rogue, err := invalidation.NewRedis(redis.NewClient(nil), invalidation.RedisOptions{Keys: busKeys})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	for _, v := range []uint64{1, 2, 1, 2, 2} {
		if err := rogue.Publish(ctx, invalidation.Event{Key: rec.Key, Version: v, Kind: invalidation.Changed, Origin: "rogue"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		select {
		case <-buses[1].events:
		case <-time.After(10 * time.Second):
			t.Fatal("the rogue events did not arrive")
		}
	}
	reads := b.Stats().RemoteRequests(0)
	if got := get(t, b, rec.Key); got.Version != 2 {
		t.Fatalf("b reads version %d; want 2", got.Version)
	}
	if b.Stats().RemoteRequests(0) != reads {
		t.Fatal("an old or duplicate event evicted b's newer copy")
	}
	// a's two events found nothing cached on b; the five rogue ones found
	// a copy at least as new: all seven ignored, none applied.
	if st := b.Stats(); st.BusApplied != 0 || st.BusIgnored != 7 {
		t.Fatalf("b applied %d, ignored %d events; want 0 and 7", st.BusApplied, st.BusIgnored)
	}
}
