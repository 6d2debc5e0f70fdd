package local

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Stats is a snapshot of a Cache's counters, summed over its shards. Every
// field but Entries only grows over the life of the Cache (Purge does not
// reset them), so a Prometheus collector can export them as counters read at
// scrape time. Counters are updated without a global lock, so a snapshot
// taken during traffic is not an atomic cut across fields.
type Stats struct {
	// Hits counts Get calls that returned Hit.
	Hits uint64
	// Misses counts Get calls that returned Miss, including those that
	// found an expired entry.
	Misses uint64
	// NegativeHits counts Get calls that returned NegativeHit.
	NegativeHits uint64
	// Evictions counts fresh entries removed to stay within Capacity or
	// MaxBytes.
	Evictions uint64
	// Expirations counts expired entries removed or replaced: found by
	// Get, Remove or RemoveIfOlder, replaced by an install, or reclaimed
	// from the tail of a shard's LRU lists by a later install.
	Expirations uint64
	// Rejections counts InstallLoaded calls that Options.Admission
	// refused.
	Rejections uint64
	// Entries is the number of entries held now, as Len reports it: a
	// gauge, not a counter.
	Entries int
}

// stripe holds the read-path counters that one group of goroutines
// updates. Hits happen without any lock, so counting them in one shared
// word, or per shard, would make every hit on a hot key bounce a cache
// line between cores: with zipf traffic that costs more than the lookup.
// A goroutine instead picks its stripe from its own stack address (the
// trick otter's internal/xruntime.StackHash uses), so a goroutine keeps
// writing the same line, which stays in its core's cache while the
// goroutine stays on that core. Stats sums the stripes.
type stripe struct {
	hits         atomic.Uint64
	misses       atomic.Uint64
	negativeHits atomic.Uint64
	_            [cacheLine - 24]byte
}

const (
	// stripesPerProc makes two goroutines that run at the same time
	// unlikely to pick the same stripe (1 in 64 for two of them on two
	// cores).
	stripesPerProc = 32
	// maxStripes bounds the stripes' memory (64 KiB).
	maxStripes = 512
	// stackBits are the stack address bits dropped before hashing: below
	// the smallest goroutine stack (2 KiB) they depend on the call depth,
	// not on the goroutine.
	stackBits = 11
)

// newStripes returns the stripes for the current GOMAXPROCS; their number
// is a power of two.
func newStripes() []stripe {
	return make([]stripe, min(ceilPow2(stripesPerProc*runtime.GOMAXPROCS(0)), maxStripes))
}

// stripe returns the calling goroutine's counter stripe.
func (c *Cache) stripe() *stripe {
	var b byte
	// The address is only hashed, never turned back into a pointer.
	a := uint64(uintptr(unsafe.Pointer(&b))) >> stackBits
	a *= 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of a
	return &c.stripes[a>>c.stripeShift]
}

// Stats returns the cache's counters summed over its stripes and shards.
// It takes each shard lock briefly to count the entries.
func (c *Cache) Stats() Stats {
	var st Stats
	for i := range c.stripes {
		s := &c.stripes[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.NegativeHits += s.negativeHits.Load()
	}
	for i := range c.shards {
		s := &c.shards[i]
		st.Evictions += s.evictions.Load()
		st.Expirations += s.expirations.Load()
		st.Rejections += s.rejections.Load()
		st.Entries += s.len()
	}
	return st
}

// Bytes returns the heap the entries held now take, counted as
// Options.MaxBytes counts it (EntryOverhead, Data, and keys longer than 48
// bytes): a gauge. It takes each shard lock briefly.
func (c *Cache) Bytes() int64 {
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}
