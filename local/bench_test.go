package local

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"

	"github.com/tiersession/tiersession/internal/benchkeys"
)

// Hit benchmark parameters, the same as tier's and the same as an
// outsider's benchmark of the public API: 32,768 sessions with 43-byte
// storage keys and a 1 KB payload each (32 MiB of payload, far beyond the
// CPU caches), every one cached, so every Get is a hit (RunHits reports
// miss/op, which must be 0). The accesses follow a Zipf distribution so that
// hot keys concentrate on few shards, locks and cache lines, as session
// traffic does, and the 1M-access trace is walked from a different offset
// by each goroutine.
const (
	benchKeys    = 32768   // distinct keys, all cached
	benchSeq     = 1 << 20 // precomputed accesses, a power of two
	benchSeed    = 1
	benchPayload = 1024
	benchTTL     = 10 * time.Minute // far beyond any run: nothing expires
)

// hitFixture is the shared input of the Hit benchmarks.
type hitFixture struct {
	keys    []string // the distinct keys
	seq     []string // benchSeq zipf-distributed accesses to keys
	expires time.Time
}

// newHitFixture builds the keys and the access sequence.
func newHitFixture(tb testing.TB) hitFixture {
	tb.Helper()
	return hitFixture{
		keys:    benchkeys.Keys(benchKeys),
		seq:     benchkeys.Zipf(benchKeys, benchSeq, benchSeed),
		expires: time.Now().Add(benchTTL),
	}
}

// entry returns a new entry for one key with its own payload, allocated
// right before the contender stores it, as a cache fills in service (a
// remote read allocates each record's payload). Every contender is filled
// through this one function in the same order, so none gets a more
// compact heap than another.
func (f hitFixture) entry() Entry {
	return Entry{Data: make([]byte, benchPayload), Version: 1, ExpiresAt: f.expires}
}

// BenchmarkHit compares a hit in this cache (without and with Admission)
// with a hit in golang-lru's
// lru.Cache (a mutex around simplelru) and expirable.LRU, otter as a user
// would configure it for sessions (size bound and write TTL, with its
// coarse clock) and bare (size bound only), and a plain map, serially and
// from GOMAXPROCS goroutines, on the same keys in the same run, each
// through the same closure call of benchkeys.RunHits. Report ns/op ratios
// between sub-benchmarks of one run, never across runs.
func BenchmarkHit(b *testing.B) {
	f := newHitFixture(b)
	b.Run("local", func(b *testing.B) { benchHitLocal(b, f, false) })
	b.Run("local-admission", func(b *testing.B) { benchHitLocal(b, f, true) })
	b.Run("lru", func(b *testing.B) { benchHitLRU(b, f) })
	b.Run("expirable", func(b *testing.B) { benchHitExpirable(b, f) })
	b.Run("otter", func(b *testing.B) { benchHitOtter(b, f, true) })
	b.Run("otter-bare", func(b *testing.B) { benchHitOtter(b, f, false) })
	b.Run("map", func(b *testing.B) { benchHitMap(b, f) })
}

// benchHitLocal measures Cache.Get, with or without Options.Admission
// (which counts every Get in its frequency sketch).
func benchHitLocal(b *testing.B, f hitFixture, admission bool) {
	c, err := New(Options{Capacity: 2 * benchKeys, TTL: benchTTL, Admission: admission})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, k := range f.keys {
		if !c.Install(k, f.entry()) {
			b.Fatalf("Install(%q) = false", k)
		}
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, r := c.Get(k)
		return r == Hit
	})
}

// benchHitLRU measures golang-lru's lru.Cache.Get: one mutex and a move to
// the front of the list on every hit, and no expiry.
func benchHitLRU(b *testing.B, f hitFixture) {
	c, err := lru.New[string, Entry](2 * benchKeys)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range f.keys {
		c.Add(k, f.entry())
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, ok := c.Get(k)
		return ok
	})
}

// benchHitExpirable measures golang-lru's expirable.LRU.Get, which takes
// one mutex, reads time.Now and moves the entry on every hit. Its cleanup
// goroutine cannot be stopped in v2.0.7 (TestMain ignores it).
func benchHitExpirable(b *testing.B, f hitFixture) {
	c := expirable.NewLRU[string, Entry](2*benchKeys, nil, benchTTL)
	for _, k := range f.keys {
		c.Add(k, f.entry())
	}
	benchkeys.RunHits(b, f.seq, func(k string) bool {
		_, ok := c.Get(k)
		return ok
	})
}

// newOtter returns an otter cache bounded to 2*benchKeys entries. With
// ttl it also has the local cache's other feature, a write TTL, read
// through otter's own coarse clock at this package's ClockResolution (its
// default clock reads the time on every hit); without, it is otter at its
// fastest. No stats recorder. Its goroutines stop when the benchmark ends.
func newOtter(b *testing.B, ttl bool) *otter.Cache[string, Entry] {
	o := &otter.Options[string, Entry]{MaximumSize: 4 * benchKeys}
	if ttl {
		clock := otter.NewCoarseClock(ClockResolution)
		b.Cleanup(clock.Stop)
		o.ExpiryCalculator = otter.ExpiryWriting[string, Entry](benchTTL)
		o.Clock = clock
	}
	c := otter.Must(o)
	b.Cleanup(func() { c.StopAllGoroutines() })
	return c
}

// benchHitOtter measures otter's GetIfPresent.
func benchHitOtter(b *testing.B, f hitFixture, ttl bool) {
	c := newOtter(b, ttl)
	for _, k := range f.keys {
		c.Set(k, f.entry())
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
		m[k] = f.entry()
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
		c := newOtter(b, true)
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
		install(k, f.entry())
	}
	first := f.entry()
	var version atomic.Uint64
	version.Store(first.Version)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		e, installed := first, 0
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
			i, e, n := int(worker.Add(1))*7919, first, 0
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

// BenchmarkMemory reports the heap one cached entry costs beyond its key
// and payload ("overhead-B/entry"), measured with runtime.ReadMemStats
// after a full GC, before and after filling a cache with memEntries
// entries of 43-byte keys and 1 KB payloads. The payloads and keys are
// allocated inside the measured span for every contender alike, and the
// key and payload bytes are subtracted, so what remains is the cache's own
// structure: items, list links, index slots, map buckets and size-class
// rounding. Each iteration fills a new cache; b.N only repeats the
// measurement (run with -benchtime 1x).
func BenchmarkMemory(b *testing.B) {
	const memEntries = 100_000
	keyNames := benchkeys.Keys(memEntries)
	expires := time.Now().Add(benchTTL)
	measure := func(b *testing.B, fill func(keys []string) any) {
		var overhead float64
		for range b.N {
			// The keys slice lives across the measurement, so its own
			// memory is in both readings; the key strings are allocated
			// inside it, as requests parse them, and released by the
			// caller after the fill, so they count only if the cache keeps
			// them.
			keys := make([]string, len(keyNames))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i, k := range keyNames {
				keys[i] = strings.Clone(k)
			}
			c := fill(keys)
			clear(keys)
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(c)
			runtime.KeepAlive(keys)
			per := float64(after.HeapAlloc-before.HeapAlloc) / memEntries
			overhead = per - float64(len(keyNames[0])+benchPayload)
		}
		b.ReportMetric(overhead, "overhead-B/entry")
		b.ReportMetric(0, "ns/op")
	}
	entry := func() Entry { return Entry{Data: make([]byte, benchPayload), Version: 1, ExpiresAt: expires} }
	b.Run("local", func(b *testing.B) {
		measure(b, func(keys []string) any {
			c, err := New(Options{Capacity: 2 * memEntries, TTL: benchTTL})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			for _, k := range keys {
				c.Install(k, entry())
			}
			if n := c.Len(); n != memEntries {
				b.Fatalf("cache holds %d entries, want %d", n, memEntries)
			}
			return c
		})
	})
	b.Run("lru", func(b *testing.B) {
		measure(b, func(keys []string) any {
			c, _ := lru.New[string, Entry](2 * memEntries)
			for _, k := range keys {
				c.Add(k, entry())
			}
			return c
		})
	})
	b.Run("otter", func(b *testing.B) {
		measure(b, func(keys []string) any {
			c := newOtter(b, true)
			for _, k := range keys {
				c.Set(k, entry())
			}
			c.CleanUp()
			return c
		})
	})
	b.Run("map", func(b *testing.B) {
		measure(b, func(keys []string) any {
			m := make(map[string]Entry)
			for _, k := range keys {
				m[k] = entry()
			}
			return m
		})
	})
}
