// Package local is the in-process tier of tiersession: a sharded, expiring,
// version-aware LRU of session records keyed by storage key, built on
// github.com/hashicorp/golang-lru/v2/simplelru.
//
// # What it owns
//
// A Cache holds two kinds of entries under a key: a live record (an Entry
// with Data, Version and ExpiresAt) and a not-found marker with a floor.
// Get answers Hit, NegativeHit or Miss. Writers never overwrite blindly:
// Install keeps the newer of what it holds and what it is given (by
// Version, then by ExpiresAt for a touch), InstallNotFound never hides a
// record newer than its floor, and RemoveIfOlder applies an invalidation
// "this key now has version v". So the tier above can install the result
// of any load, however late it finishes, without ever replacing a newer
// write with an older one. Entries are served for at most Options.TTL after
// their install and never at or after their own ExpiresAt; markers for
// Options.NegativeTTL. Capacity bounds the entry count, MaxBytes
// optionally the bytes of keys and data.
//
// The package imports only the standard library and golang-lru. It knows
// nothing of remote stores, buses or metrics: Stats returns plain counters
// for a collector to read at scrape time.
//
// # Design
//
// The key's hash (hash/maphash, with a seed per cache) picks a shard by its
// top bits. A shard has two structures that always hold the same items:
//
//   - two simplelru.LRU lists under the shard's mutex, one for records and
//     one for not-found markers, which own recency order, capacity and the
//     byte cap: every install, removal and eviction goes through them,
//     under the lock. Markers may take at most a quarter of the capacity,
//     so a flood of random or forged tokens (one marker each) recycles
//     markers instead of pushing the real sessions out; over the capacity,
//     the less recently used of the two list tails goes;
//   - a lock-free read index: an open-addressing table of atomic pointers
//     to immutable items, which writers update under the same lock and
//     readers probe without any lock.
//
// A hit is a hash, a probe of a few atomic loads, a key comparison against
// bytes stored inside the item, a comparison of the item's precomputed
// deadline against the clock, and one atomic add to a counter. It takes no
// lock and writes no memory that another core reads, so hits on the same
// hot keys from every core do not bounce cache lines; it allocates nothing.
//
// Three things that a naive LRU does on every hit are done less often:
//
//   - Time. The default clock is coarse: a goroutine that the Cache owns
//     stores time.Now in an atomic word every ClockResolution (1ms), and
//     Close stops it. Reading it costs one load instead of a time.Now call
//     (about as much as the whole hit otherwise). To keep the clock's lag
//     from serving a record late, a record stops being served one
//     ClockResolution before its ExpiresAt (a process starved of CPU, whose
//     ticker is not scheduled, can still serve one late by as long as the
//     starvation lasts). Options.Now replaces the clock
//     (tests use a fake one); then no goroutine runs and expiry is exact.
//   - Recency. A hit moves its entry to the front of the LRU list only if
//     the last move was longer ago than the promotion interval (TTL/50,
//     100ms by default), and only if the shard lock is free at that moment
//     (TryLock): LRU order is exact to within that interval, and a hot
//     key takes its shard's lock about ten times a second instead of on
//     every hit. Reads never wait for writers.
//   - Counting. Hits, misses and negative hits go to one of a set of
//     padded counter stripes, picked by a hash of the calling goroutine's
//     stack address, so each goroutine keeps incrementing a line its own
//     core holds. Evictions and expirations, which happen under a shard
//     lock, are counted per shard.
//
// Expired entries are removed when a Get finds them, when an install on
// their shard finds up to two of them at the tail of its LRU order, or by
// capacity pressure; there is no sweeper goroutine. Memory stays bounded by
// Capacity (and MaxBytes) regardless. With Options.StaleGrace, a record past
// its TTL but not past its ExpiresAt is kept for that long, so that Stale
// can serve it while the source of truth is unreachable.
//
// # Compared with expirable.LRU
//
// golang-lru's expirable.LRU (v2.0.7) is the obvious alternative, and the
// benchmarks in bench_test.go measure against it. It keeps every entry
// under one mutex, calls time.Now inside that lock and moves the entry to
// the front of its list on every Get, so all cores serialise on one lock
// and one hot list head; it expires entries with a cleanup goroutine that
// starts with each cache and that v2.0.7 cannot stop (goleak reports it);
// its TTL is one duration for all entries, with no per-entry deadline, no
// version check on Add and no negative entries. This package instead
// shards the locks, keeps reads off them, reads a coarse clock, promotes
// at most once per interval, stops its only goroutine in Close, and makes
// every write version-aware.
//
// What that costs:
//
//   - Memory: each entry is indexed twice (the LRU lists' map and list, and
//     the read table): about 340 bytes per entry besides its data, against
//     about 230 for expirable.LRU (measured with 32768 entries of 43-byte
//     keys).
//   - Writes: items are immutable so that readers need no lock, so every
//     install allocates one (160 bytes) and updates both indexes. An
//     install costs about 1.6× an expirable.LRU.Add serially (BenchmarkInstall);
//     from two cores it is still cheaper, as writers of different shards
//     do not share a lock. Either is small next to the remote write that
//     precedes an install.
//   - LRU precision: capacity is split evenly between shards, so a shard
//     may evict its oldest entry while another has room, and recency is
//     only tracked to within the promotion interval. For a session cache
//     whose entries expire after a few seconds anyway, capacity eviction is
//     rare and this imprecision is cheap.
//   - Expiry precision: with the default clock, entries expire up to
//     ClockResolution early, and a ticker goroutine wakes every
//     ClockResolution for the life of the cache.
//   - Snapshot consistency: Stats sums counters that are updated without a
//     common lock; each counter is exact, but the fields of one snapshot
//     are not an atomic cut. Two goroutines that happen to hash to the
//     same counter stripe (about 1 in 64 on two cores) share its line.
//
// otter (github.com/maypok86/otter/v2) reads without locks too and adds an
// admission policy (W-TinyLFU) that beats LRU on hit ratio for skewed
// traffic; it is used only in this package's benchmarks, as the reference
// for what a lock-free read costs, and is not a dependency of the library.
//
// # Performance
//
// BenchmarkHit compares, in one run on the same Zipf-distributed keys
// (internal/benchkeys, 32768 keys, all cached), a Get from this cache with
// bare expirable.LRU.Get, otter's GetIfPresent (size bound, write TTL and
// its coarse clock, the same features and clock trick) and a plain map
// read, serially and from GOMAXPROCS goroutines:
//
//	go test -run '^$' -bench Hit -benchtime 2s -count 3 ./local/
//
// On the 2-core reference machine a hit cost about 1.3× a map read, 0.4×
// (serial) to 0.5× (parallel) an otter hit, and 0.28× (serial) to 0.11×
// (parallel) an expirable.LRU hit, with no allocation. Compare ratios
// within one run, not absolute figures across runs or machines: the hit
// is dominated by cache misses on the probed slot and item, so absolute
// times follow the memory system.
//
// What each choice above buys was measured by undoing it alone, parallel
// hit cost against this design in the same run: time.Now on every hit,
// 2.5× (2.6× serially); a shard mutex around the probe, 2.4× to 4×; every
// hit counted in one shared word, 2.5×; an LRU move on every hit, 6×.
// Counting hits at all, in the striped counters, costs about 10%.
package local
