package tiersession_test

import (
	"context"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/tier"
)

// TestForgedAndGarbageMessagesDoNotPurge: anyone who can PUBLISH on the
// channel sends garbage, an unsigned event and an event signed with a key
// the nodes do not hold. None of them purges a node or evicts the key
// they name; each is dropped and counted. A genuine event sent after them
// still evicts, which is also what the test waits on.
func TestForgedAndGarbageMessagesDoNotPurge(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	redis := redistest.Start(t)
	nodes, buses := cluster(t, tb, redis, 2, tier.Options{LocalTTL: time.Hour})
	a, b := nodes[0], nodes[1]
	victim, err := a.Create(ctx, tb.record(t, "victim"))
	if err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, victim.Key, 1)
	get(t, b, victim.Key) // b caches the victim for an hour
	before := b.Stats()

	raw := redis.NewClient(nil)
	defer raw.Close()
	for _, msg := range [][]byte{
		[]byte("garbage"),
		{},
		{0x02, 0xff, 0xff},
	} {
		if err := raw.Publish(ctx, invalidation.DefaultChannel, msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Well-formed events that do not authenticate: unsigned (Insecure) and
	// signed with a key the nodes do not hold.
	forgers := []invalidation.RedisOptions{
		{Insecure: true},
		{Keys: []invalidation.Key{{ID: "test", Secret: []byte("not-the-secret-not-the-secret-!!")}}},
	}
	for _, o := range forgers {
		forger, err := invalidation.NewRedis(redis.NewClient(nil), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range []invalidation.Kind{invalidation.Deleted, invalidation.Changed} {
			if err := forger.Publish(ctx, invalidation.Event{Key: victim.Key, Version: 1 << 40, Kind: kind, Origin: "mallory"}); err != nil {
				t.Fatal(err)
			}
		}
		forger.Close() // flushes its queue
	}

	// A genuine event for another key, published after the forgeries, is
	// delivered after them: once b has handled it, it has seen them all.
	other, err := a.Create(ctx, tb.record(t, "other"))
	if err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, other.Key, 1)

	after := b.Stats()
	if after.BusPurges != before.BusPurges || after.BusGaps != before.BusGaps {
		t.Fatalf("b: purges %d→%d, gaps %d→%d; forged messages must not purge", before.BusPurges, after.BusPurges, before.BusGaps, after.BusGaps)
	}
	if got := after.BusRejected - before.BusRejected; got != 3+4 {
		t.Fatalf("b rejected %d messages; want 7 (3 garbage, 4 forged)", got)
	}
	hits := after.LocalHits
	if got := get(t, b, victim.Key); got.Version != 1 {
		t.Fatalf("victim = version %d", got.Version)
	}
	if b.Stats().LocalHits != hits+1 {
		t.Fatal("a forged event evicted the victim from b's local tier")
	}
}

// TestNodeStartsWithRedisDown: a node whose Redis is unreachable starts,
// serves from DynamoDB, and once Redis is back it subscribes, purges what
// it cached meanwhile and receives invalidations.
func TestNodeStartsWithRedisDown(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	redis := redistest.Start(t)
	redis.Stop()

	start := time.Now()
	nodes, buses := cluster(t, tb, redis, 2, tier.Options{LocalTTL: time.Hour, BusWait: 100 * time.Millisecond})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("starting two nodes with Redis down took %v", took)
	}
	a, b := nodes[0], nodes[1]
	if a.BusLive() || b.BusLive() {
		t.Fatal("a node reports its bus live while Redis is down")
	}
	rec, err := a.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatalf("Create with Redis down: %v", err)
	}
	get(t, b, rec.Key) // cached while no event can arrive

	redis.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for !a.BusLive() || !b.BusLive() {
		if time.Now().After(deadline) {
			t.Fatal("nodes not subscribed 30s after Redis came back")
		}
		time.Sleep(10 * time.Millisecond) // polling the background subscription
	}
	waitPurges(t, b, 1)
	if n := b.Stats().LocalEntries; n != 0 {
		t.Fatalf("b holds %d entries after subscribing late; want a purged local tier", n)
	}
	get(t, b, rec.Key)
	rec.Data = []byte("v2")
	if rec, err = a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	buses[1].waitEvent(t, rec.Key, 2)
	if got := get(t, b, rec.Key); got.Version != 2 {
		t.Fatalf("b reads version %d after the event; want 2", got.Version)
	}
}
