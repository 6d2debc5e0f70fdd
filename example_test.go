package tiersession_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// The README's "Using it" snippets are the bodies of these examples,
// checked by TestReadmeSnippets.

func ExampleOpen() {
	ctx := context.Background()
	store, err := tiersession.Open(ctx, tiersession.Config{}) // no Table: in memory, for development
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	token := tiersession.NewToken()      // the cookie's value: 256 bits from crypto/rand
	key := tiersession.StorageKey(token) // what the store sees: base64url(SHA-256(token))
	expires := time.Now().Add(30 * time.Minute)
	rec, err := store.Create(ctx, tier.Record{Key: key, Data: []byte(`{"user":42}`), ExpiresAt: expires})
	if err != nil {
		log.Fatal(err)
	}
	rec, err = store.Update(ctx, key, func(r tier.Record) (tier.Record, error) {
		r.Data = []byte(`{"user":42,"cart":3}`) // r is a private copy; Update retries on conflict
		return r, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	got, found, err := store.Get(ctx, key) // got.Data is shared with the cache: read-only
	fmt.Println(rec.Version, found, err, string(got.Data))
	// Output: 2 true <nil> {"user":42,"cart":3}
}

// ExampleOpen_production is a node of a deployment: sessions in a
// DynamoDB table, other nodes told of every write over Redis, metrics on
// the default registry. It needs AWS credentials and a Redis server, so it
// is compiled but not run.
func ExampleOpen_production() {
	ctx := context.Background()
	store, err := tiersession.Open(ctx, tiersession.Config{
		Table:       "sessions",
		EnsureTable: true,         // create it (on demand, TTL on "exp") if missing
		RedisAddr:   "cache:6379", // the invalidation bus
		Bus: invalidation.RedisOptions{ // messages are authenticated (HMAC-SHA256)
			Keys: []invalidation.Key{{ID: "2026-11", Secret: []byte(os.Getenv("BUS_SECRET"))}},
		},
		Registerer: prometheus.DefaultRegisterer,
		Tier: tier.Options{
			LocalCapacity: 50_000,          // sessions cached per node
			LocalTTL:      5 * time.Second, // staleness bound when bus messages are lost
			StaleIfError:  time.Minute,     // serve a recent copy while DynamoDB fails
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	key := tiersession.StorageKey(tiersession.NewToken())
	rec, err := store.Touch(ctx, key, time.Now().Add(30*time.Minute)) // at most one write per TouchInterval
	switch {
	case errors.Is(err, tier.ErrNotFound):
		// no such session: start a new one
	case errors.Is(err, tier.ErrUnavailable):
		// DynamoDB failed or is overloaded; nothing was written
	case err != nil:
		log.Print(err)
	default:
		if err := store.Delete(ctx, key, rec.Version); errors.Is(err, tier.ErrConflict) {
			// it changed meanwhile: read it again
		}
	}
}

// Example_layers wires the layers by hand, as Open does: the DynamoDB
// remote, the Redis bus, the tier. It needs AWS and Redis, so it is
// compiled but not run.
func Example_layers() {
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	dynamo, err := remote.NewDynamo(dynamodb.NewFromConfig(awsCfg), remote.DynamoOptions{Table: "sessions"})
	if err != nil {
		log.Fatal(err)
	}
	if err := dynamo.EnsureTable(ctx); err != nil {
		log.Fatal(err)
	}
	bus, err := invalidation.NewRedis(redis.NewClient(&redis.Options{Addr: "cache:6379"}), invalidation.RedisOptions{
		Keys: []invalidation.Key{{ID: "2026-11", Secret: []byte(os.Getenv("BUS_SECRET"))}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()
	store, err := tier.New(dynamo, tier.Options{Bus: bus, Registerer: prometheus.DefaultRegisterer})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
}
