package tier_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiersession/tiersession/internal/benchkeys"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// Hit benchmark parameters, the same as local's: 32768 cached sessions,
// Zipf-distributed accesses, nothing expiring during the run.
const (
	benchKeys = 32768
	benchSeq  = 1 << 20
	benchTTL  = 10 * time.Minute
)

// BenchmarkHit compares a tier.Store hit (metrics registered) with a hit
// in golang-lru's lru.Cache (a mutex around simplelru, no expiry), a bare
// expirable.LRU hit and an otter hit on the same keys in the same run:
// 32,768 sessions of 1 KB (32 MiB, far beyond the CPU caches) with 43-byte
// storage keys, read along a 1M-access Zipf trace that each goroutine
// walks from its own offset. Compare ns/op between sub-benchmarks of one
// run, never across runs.
func BenchmarkHit(b *testing.B) {
	keys := benchkeys.Keys(benchKeys)
	seq := benchkeys.Zipf(benchKeys, benchSeq, 1)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	// Every contender is filled the way a cache fills in service: each
	// entry is inserted right after its 1 KB payload was allocated (the
	// tier's by a remote read, the others' by a copy), so that no contender
	// gets a more compact heap than the others.
	payload := make([]byte, 1024)
	recs := make([]remote.Record, len(keys))
	for i, k := range keys {
		recs[i] = remote.Record{Key: k, Data: payload, Version: 1, ExpiresAt: exp.Truncate(time.Second)}
	}
	fresh := func(r remote.Record) remote.Record { r.Data = bytes.Clone(r.Data); return r }

	b.Run("tier", func(b *testing.B) {
		mem := remote.NewMemory(remote.MemoryOptions{})
		s, err := tier.New(mem, tier.Options{
			LocalCapacity: 2 * benchKeys,
			LocalTTL:      benchTTL,
			Registerer:    prometheus.NewRegistry(),
		})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for _, r := range recs {
			if _, err := mem.Create(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		for _, k := range keys {
			if _, found, err := s.Get(ctx, k); !found || err != nil {
				b.Fatalf("loading %q: found %v, err %v", k, found, err)
			}
		}
		before := mem.Requests()
		benchkeys.RunHits(b, seq, func(k string) bool {
			_, found, err := s.Get(ctx, k)
			return found && err == nil
		})
		if n := mem.Requests() - before; n != 0 {
			b.Fatalf("hits made %d remote requests", n)
		}
	})
	b.Run("lru", func(b *testing.B) {
		c, err := lru.New[string, remote.Record](2 * benchKeys)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			c.Add(r.Key, fresh(r))
		}
		benchkeys.RunHits(b, seq, func(k string) bool {
			_, ok := c.Get(k)
			return ok
		})
	})
	b.Run("expirable", func(b *testing.B) {
		c := expirable.NewLRU[string, remote.Record](2*benchKeys, nil, benchTTL)
		for _, r := range recs {
			c.Add(r.Key, fresh(r))
		}
		benchkeys.RunHits(b, seq, func(k string) bool {
			_, ok := c.Get(k)
			return ok
		})
	})
	b.Run("otter", func(b *testing.B) {
		// The same features as the tier's local cache and the same clock
		// trick (otter's coarse clock): the strongest otter to compare with.
		clock := otter.NewCoarseClock(time.Millisecond)
		defer clock.Stop()
		c := otter.Must(&otter.Options[string, remote.Record]{
			MaximumSize:      2 * benchKeys,
			ExpiryCalculator: otter.ExpiryWriting[string, remote.Record](benchTTL),
			Clock:            clock,
		})
		defer c.StopAllGoroutines()
		for _, r := range recs {
			c.Set(r.Key, fresh(r))
		}
		c.CleanUp()
		benchkeys.RunHits(b, seq, func(k string) bool {
			_, ok := c.GetIfPresent(k)
			return ok
		})
	})
}
