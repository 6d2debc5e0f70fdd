package tier_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

func Example() {
	ctx := context.Background()
	// The in-memory remote stands in for DynamoDB (remote.NewDynamo).
	store, err := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	key := "2jmj7l5rSw0yVb_vlWAYkK_YBwk8eY8uXqq-vNwvN1E" // base64url(SHA-256(token))
	rec, err := store.Create(ctx, tier.Record{Key: key, Data: []byte(`{"user":42}`), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	fmt.Println("created version", rec.Version)

	rec, err = store.Update(ctx, key, func(r tier.Record) (tier.Record, error) {
		r.Data = []byte(`{"user":42,"cart":3}`)
		return r, nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("updated to version", rec.Version)

	got, found, err := store.Get(ctx, key)
	fmt.Println(found, err, string(got.Data))
	// Output:
	// created version 1
	// updated to version 2
	// true <nil> {"user":42,"cart":3}
}

// "Log out everywhere": sessions created for an owner end together, on
// every node, whether or not the remote's owner index lists them yet.
func ExampleStore_DestroyAll() {
	ctx := context.Background()
	store, err := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// The owner id: a keyed hash of the user id, so the store holds none.
	alice := tier.HashOwner([]byte("a secret key, the same on every node"), "alice@example.com")
	for i, device := range []string{"phone", "laptop"} {
		key := fmt.Sprintf("2jmj7l5rSw0yVb_vlWAYkK_YBwk8eY8uXqq-vNwvN1%c", 'A'+i)
		_, err := store.Create(ctx, tier.Record{
			Key: key, Data: []byte("..."), ExpiresAt: time.Now().Add(time.Hour),
			Owner: alice, Meta: map[string]string{"device": device},
		})
		if err != nil {
			panic(err)
		}
	}
	devices, _ := store.List(ctx, alice)
	for _, d := range devices {
		fmt.Println(d.Meta["device"], len(d.ID))
	}

	if err := store.DestroyAll(ctx, alice); err != nil {
		panic(err)
	}
	_, found, _ := store.Get(ctx, "2jmj7l5rSw0yVb_vlWAYkK_YBwk8eY8uXqq-vNwvN1A")
	devices, _ = store.List(ctx, alice)
	fmt.Println(found, len(devices))
	// Output:
	// phone 22
	// laptop 22
	// false 0
}
