package invalidation_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
)

// evictor stands for a tier.Store: it drops local copies when other nodes
// report changes and purges everything on a gap.
type evictor struct {
	node string
}

// HandleEvent skips the node's own events and evicts on the others.
func (e evictor) HandleEvent(ev invalidation.Event) {
	if ev.Origin == e.node {
		fmt.Printf("%s: ignore own %v of %s\n", e.node, ev.Kind, ev.Key)
		return
	}
	fmt.Printf("%s: evict %s older than v%d (%v by %s)\n", e.node, ev.Key, ev.Version, ev.Kind, ev.Origin)
}

// HandleGap purges, since events may have been missed.
func (e evictor) HandleGap() { fmt.Printf("%s: purge local tier\n", e.node) }

// Two stores in one process share a Local bus. Flush makes the output
// deterministic; real callers do not wait.
func ExampleLocal() {
	ctx := context.Background()
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	defer bus.Close()

	unsubscribe, err := bus.Subscribe(ctx, evictor{node: "node-b"})
	if err != nil {
		panic(err)
	}
	defer unsubscribe()

	// node-a saved version 2 of a session; node-b deletes it afterwards.
	_ = bus.Publish(ctx, invalidation.Event{Key: "n4bQgYhM", Version: 2, Kind: invalidation.Changed, Origin: "node-a"})
	_ = bus.Publish(ctx, invalidation.Event{Key: "n4bQgYhM", Version: 2, Kind: invalidation.Deleted, Origin: "node-b"})
	if err := bus.Flush(ctx); err != nil {
		panic(err)
	}
	// Output:
	// node-b: evict n4bQgYhM older than v2 (changed by node-a)
	// node-b: ignore own deleted of n4bQgYhM
}

// Each node builds a Redis bus on its go-redis client, with the shared
// message key, subscribes its store and publishes after every successful
// write. Close the bus before the client.
func ExampleNewRedis() {
	ctx := context.Background()
	// The same 32 random bytes on every node, from a secret store; the id
	// names the key in messages, so a new key can be phased in.
	secret, err := hex.DecodeString(os.Getenv("SESSION_BUS_KEY"))
	if err != nil {
		panic(err)
	}
	client := redis.NewClient(&redis.Options{Addr: "redis.internal:6379"})
	defer client.Close()
	bus, err := invalidation.NewRedis(client, invalidation.RedisOptions{
		Channel: "myapp:sessions:invalidate",
		Keys:    []invalidation.Key{{ID: "2025-06", Secret: secret}},
	})
	if err != nil {
		panic(err) // no key, or a key shorter than MinSecretLen
	}
	defer bus.Close()

	unsubscribe, err := bus.Subscribe(ctx, evictor{node: "node-a"})
	if err != nil {
		fmt.Println("no invalidation bus:", err)
		return
	}
	defer unsubscribe()

	err = bus.Publish(ctx, invalidation.Event{Key: "n4bQgYhM", Version: 3, Kind: invalidation.Changed, Origin: "node-a"})
	if err != nil {
		// The write succeeded; other nodes may stay stale until their TTL.
		fmt.Println(bus.Stats().Dropped, "invalidations dropped so far")
	}
}

// The wire form of an event: format version, kind, version, origin, key.
func ExampleEvent_MarshalBinary() {
	b, err := invalidation.Event{Key: "key", Version: 300, Kind: invalidation.Touched, Origin: "n1"}.MarshalBinary()
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)
	var e invalidation.Event
	if err := e.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", e)
	// Output:
	// 01 02 ac 02 02 6e 31 6b 65 79
	// {Key:key Version:300 Kind:touched Origin:n1}
}
