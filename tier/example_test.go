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
