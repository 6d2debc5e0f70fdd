// Package local is the in-process tier of tiersession: a sharded, expiring,
// version-aware LRU of session records keyed by storage key, with an
// optional TinyLFU admission filter.
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
// optionally the heap the entries take (data, long keys and EntryOverhead
// each).
//
// The package imports only the standard library. It knows nothing of
// remote stores, buses or metrics: Stats returns plain counters for a
// collector to read at scrape time.
//
// # Design
//
// The key's hash (hash/maphash, with a seed per cache) picks a shard by its
// top bits. A shard has two structures that always hold the same items:
//
//   - two intrusive LRU lists under the shard's mutex, one for records and
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
// An item is 128 bytes, two cache lines: the key (inline up to 48 bytes)
// and its hash in the first, what a hit returns and the list links in the
// second. The lists are intrusive because the index already maps keys to
// items: golang-lru's simplelru, which this package used before, keeps a
// second map and a list element per entry, which made an entry cost 253
// bytes of heap beyond its 43-byte key and its data, against 106 now
// (BenchmarkMemory; lru.Cache 168, otter 167, a bare map 110).
//
// A hit is a hash, a probe of a few atomic loads, a key comparison against
// bytes stored inside the item, a comparison of the item's precomputed
// deadline against the clock, a load of the reference bit, and one
// atomic add to a counter. It takes no lock and writes no memory that
// another core reads, so hits on the same hot keys from every core do not
// bounce cache lines; it allocates nothing.
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
//   - Recency. A hit does not move its entry: it sets the entry's
//     reference bit, a store only when the bit is not already set, so a
//     hot entry is read, not written, by every core. The order is
//     corrected where it matters, at the tail, by the writer about to
//     evict under the shard lock: a referenced entry found there goes to
//     the front with its bit cleared (a second chance), and the first
//     unreferenced one is evicted. This is CLOCK, the classic approximation
//     of LRU, and it holds at any TTL and request rate: on the Zipf trace
//     of BenchmarkHitRatio it hits slightly more often than exact LRU. (An
//     earlier version moved an entry on a hit at most once per TTL/50 of
//     wall time: with a long TTL and a fast request rate that decayed into
//     FIFO order and lost three points of hit ratio against exact LRU.)
//     Reads never take a lock and never wait for writers.
//   - Counting. Hits, misses and negative hits go to one of a set of
//     padded counter stripes, picked by a hash of the calling goroutine's
//     stack address, so each goroutine keeps incrementing a line its own
//     core holds. Evictions and expirations, which happen under a shard
//     lock, are counted per shard.
//
// With Options.Admission, a TinyLFU filter decides whether a record loaded
// after a miss (InstallLoaded) may evict the record at the tail: only if
// its key was requested more often recently, by a count-min sketch with a
// doorkeeper that every Get updates (see sketch.go). Writes (Install)
// always go in, so a node reads its own writes. On Zipf traffic this keeps
// the moderately popular sessions that a stream of one-off requests would
// otherwise push out (BenchmarkHitRatio).
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
// shards the locks, keeps reads off them, reads a coarse clock, marks
// instead of moving on a hit, stops its only goroutine in Close, and makes
// every write version-aware.
//
// What that costs:
//
//   - Writes: items are immutable so that readers need no lock, so every
//     install allocates one (128 bytes) and updates the index and a list.
//     Either is small next to the remote write that precedes an install.
//   - LRU precision: capacity is split evenly between shards, so a shard
//     may evict its oldest entry while another has room, and CLOCK orders
//     entries by whether they were hit since their last move, not by when.
//     BenchmarkHitRatio measures the result against an exact LRU on the
//     same trace.
//   - Expiry precision: with the default clock, entries expire up to
//     ClockResolution early, and a ticker goroutine wakes every
//     ClockResolution for the life of the cache.
//   - Snapshot consistency: Stats sums counters that are updated without a
//     common lock; each counter is exact, but the fields of one snapshot
//     are not an atomic cut. Two goroutines that happen to hash to the
//     same counter stripe (about 1 in 64 on two cores) share its line.
//   - Entry.ExpiresAt comes back from Get in UTC without a monotonic
//     reading: the item stores it as Unix seconds and nanoseconds.
//
// otter (github.com/maypok86/otter/v2) reads without locks too and adds an
// admission policy (W-TinyLFU) that beats LRU on hit ratio for skewed
// traffic; it is used only in this package's benchmarks, as the reference
// for what a lock-free read costs and what hit ratio admission reaches,
// and is not a dependency of the library.
//
// # Performance
//
// BenchmarkHit compares, in one run, a Get from this cache with a hit in
// golang-lru's lru.Cache and expirable.LRU, in otter (with a write TTL on
// its coarse clock, and bare) and in a plain map, serially and from
// GOMAXPROCS goroutines. Every contender holds the same 32,768 sessions
// (43-byte storage keys, 1 KB payloads, 32 MiB in all, each payload
// allocated as the contender stores it) and reads them along the same 1M
// Zipf trace, which each goroutine walks from its own offset:
//
//	go test -run '^$' -bench '^BenchmarkHit$' -benchmem -benchtime 2s ./local/
//
// On the 2-core reference machine, medians of six runs of the ratio
// within a run: a hit cost 0.58× an lru.Cache hit serially (0.14× in
// parallel), 0.38× an otter hit with TTL serially and 0.51× in parallel
// (0.67× and 0.53× bare otter), and 1.45× a map read, with no allocation;
// with Admission, 1.5× that serially and 3.9× in parallel, where the
// sketch's counters are shared between cores. The machine is shared and
// noisy: single runs of a ratio vary by ±30%. The hit is dominated by
// cache misses on the probed slot and the item, so absolute times, and
// the ratios to lock-based caches whose extra work is more cache misses,
// follow the memory system: with 1,024 keys, all in the CPU caches, a hit
// cost about as much as bare otter's serially and half in parallel.
//
// BenchmarkMemory measures the heap per entry with runtime.ReadMemStats
// over 100,000 entries; BenchmarkHitRatio replays a Zipf trace through
// this cache at several TTLs, with and without Admission, beside exact
// LRU and W-TinyLFU (otter) on the same trace:
//
//	go test -run '^$' -bench '^BenchmarkMemory$' -benchtime 1x ./local/
//	go test -run '^$' -bench '^BenchmarkHitRatio$' -benchtime 1x ./local/
//
// Beyond key and payload an entry takes 106 bytes (lru.Cache 168, otter
// 167, a map 110). On 100,000 keys with a cache of 10,000 and 5% writes,
// 75.7% of reads hit at a 5 s or 10 min TTL against exact LRU's 75.0%
// (74.8% at 1 s, where expiry costs exact LRU 0.6 points too); with
// Admission 79.8% at 10 min and 79.4% at 5 s, against W-TinyLFU's 80.3%.
package local
