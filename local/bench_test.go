package local

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"

	"github.com/tiersession/tiersession/internal/benchkeys"
)

// Hit benchmark parameters, the same as tier's: every key is cached, so
// every Get is a hit (RunHits reports miss/op, which must be 0), and the
// keys follow a Zipf distribution so that hot keys concentrate on few
// shards, locks and cache lines, as session traffic does.
const (
	benchKeys = 32768   // distinct keys, all cached
	benchSeq  = 1 << 20 // precomputed accesses, a power of two
	benchSeed = 1
	benchTTL  = 10 * time.Minute // far beyond any run: nothing expires
)

// hitFixture is the shared input of the Hit benchmarks.
type hitFixture struct {
	keys  []string // the distinct keys
	seq   []string // benchSeq zipf-distributed accesses to keys
	entry Entry    // the value cached under every key
}

// newHitFixture builds the keys and the access sequence.
func newHitFixture(tb testing.TB) hitFixture {
	tb.Helper()
	return hitFixture{
		keys: benchkeys.Keys(benchKeys),
		seq:  benchkeys.Zipf(benchKeys, benchSeq, benchSeed),
		entry: Entry{
			Data:      make([]byte, 256),
			Version:   1,
			ExpiresAt: time.Now().Add(benchTTL),
		},
	}
}

// BenchmarkHit compares a hit in this cache with a hit in bare
// expirable.LRU, otter and a plain map, serially and from GOMAXPROCS
// goroutines, on the same keys in the same run, each through the same
// closure call of benchkeys.RunHits. Report ns/op ratios between
// sub-benchmarks, never across runs.
func BenchmarkHit(b *testing.B) {
	f := newHitFixture(b)
	b.Run("local", func(b *testing.B) { benchHitLocal(b, f) })
	b.Run("expirable", func(b *testing.B) { benchHitExpirable(b, f) })
	b.Run("otter", func(b *testing.B) { benchHitOtter(b, f) })
	b.Run("map", func(b *testing.B) { benchHitMap(b, f) })
}

// benchHitLocal measures Cache.Get.
func benchHitLocal(b *testing.B, f hitFixture) {
	c, err := New(Options{Capacity: 2 * benchKeys, TTL: benchTTL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, k := range f.keys {
		if !c.Install(k, f.entry) {
			b.Fatalf("Install(%q) = false", k)
		}
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, r := c.Get(k)
		return r == Hit
	})
}

// benchHitExpirable measures golang-lru's expirable.LRU.Get, which takes
// one mutex, reads time.Now and moves the entry on every hit. Its cleanup
// goroutine cannot be stopped in v2.0.7 (TestMain ignores it).
func benchHitExpirable(b *testing.B, f hitFixture) {
	c := expirable.NewLRU[string, Entry](2*benchKeys, nil, benchTTL)
	for _, k := range f.keys {
		c.Add(k, f.entry)
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, ok := c.Get(k)
		return ok
	})
}

// newOtter returns an otter cache with the same features as the local one
// and the same clock trick: a size bound, a write TTL, and otter's own
// coarse clock at this package's ClockResolution (its default clock reads
// the time on every hit, which about doubles its hit cost here), no stats
// recorder. Its goroutines stop when the benchmark ends.
func newOtter(b *testing.B) *otter.Cache[string, Entry] {
	clock := otter.NewCoarseClock(ClockResolution)
	c := otter.Must(&otter.Options[string, Entry]{
		MaximumSize:      2 * benchKeys,
		ExpiryCalculator: otter.ExpiryWriting[string, Entry](benchTTL),
		Clock:            clock,
	})
	b.Cleanup(func() {
		c.StopAllGoroutines()
		clock.Stop()
	})
	return c
}

// benchHitOtter measures otter's GetIfPresent.
func benchHitOtter(b *testing.B, f hitFixture) {
	c := newOtter(b)
	for _, k := range f.keys {
		c.Set(k, f.entry)
	}
	c.CleanUp()
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, ok := c.GetIfPresent(k)
		return ok
	})
}

// benchHitMap measures a plain map read: the floor for any cache.
func benchHitMap(b *testing.B, f hitFixture) {
	m := make(map[string]Entry, len(f.keys))
	for _, k := range f.keys {
		m[k] = f.entry
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, ok := m[k]
		return ok
	})
}

// BenchmarkInstall measures the write side on the same keys: installing a
// newer version of a cached key (one item allocation and one shard lock),
// against expirable.LRU.Add and otter's Set of the same key. installed/op
// is the fraction of calls that installed: concurrent writers of one key
// make each other's older versions lose, which only Install reports.
func BenchmarkInstall(b *testing.B) {
	f := newHitFixture(b)
	b.Run("local", func(b *testing.B) {
		c, err := New(Options{Capacity: 2 * benchKeys, TTL: benchTTL})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		runInstalls(b, f, c.Install)
	})
	b.Run("expirable", func(b *testing.B) {
		c := expirable.NewLRU[string, Entry](2*benchKeys, nil, benchTTL)
		runInstalls(b, f, func(k string, e Entry) bool { c.Add(k, e); return true })
	})
	b.Run("otter", func(b *testing.B) {
		c := newOtter(b)
		runInstalls(b, f, func(k string, e Entry) bool { c.Set(k, e); return true })
	})
}

// runInstalls calls install over the fixture's access sequence, serially
// and from GOMAXPROCS goroutines, with versions that keep rising across
// the benchmark's rounds: serially by one a call, and in parallel from a
// base each goroutine takes above every earlier one.
func runInstalls(b *testing.B, f hitFixture, install func(string, Entry) bool) {
	const mask = benchSeq - 1
	for _, k := range f.keys {
		install(k, f.entry)
	}
	var version atomic.Uint64
	version.Store(f.entry.Version)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		e, installed := f.entry, 0
		b.ResetTimer()
		for i := range b.N {
			e.Version = version.Add(1)
			if install(f.seq[i&mask], e) {
				installed++
			}
		}
		b.ReportMetric(float64(installed)/float64(b.N), "installed/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var worker, installed atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i, e, n := int(worker.Add(1))*7919, f.entry, 0
			e.Version = version.Add(1 << 32)
			for pb.Next() {
				e.Version++
				if install(f.seq[i&mask], e) {
					n++
				}
				i++
			}
			installed.Add(int64(n))
		})
		b.ReportMetric(float64(installed.Load())/float64(b.N), "installed/op")
	})
}
