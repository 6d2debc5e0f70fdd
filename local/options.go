package local

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"time"
)

// Defaults for the zero fields of Options.
const (
	// DefaultCapacity is the default Options.Capacity.
	DefaultCapacity = 10000
	// DefaultTTL is the default Options.TTL.
	DefaultTTL = 5 * time.Second
	// DefaultNegativeTTL is the default Options.NegativeTTL.
	DefaultNegativeTTL = time.Second
	// ClockResolution is how often the default coarse clock reads the time.
	ClockResolution = time.Millisecond
)

const (
	// shardsPerProc is how many shards the default gives each GOMAXPROCS.
	shardsPerProc = 4
	// minShardCapacity keeps the default from cutting a small cache into
	// shards so small that per-shard LRU order stops meaning much.
	minShardCapacity = 64
	// maxShards bounds Options.Shards.
	maxShards = 1 << 16
)

// Options configures a Cache. The zero value of every field means its
// default; negative values are errors.
type Options struct {
	// Capacity is the most entries, live records and not-found markers
	// together, that the cache holds across all shards. It is split
	// evenly between the shards, so the total never exceeds it but a
	// shard whose share is full evicts its least recently used entry even
	// while other shards have room. Not-found markers never take more than
	// a quarter of it, so a flood of unknown keys cannot push the known
	// sessions out. Default DefaultCapacity (10000).
	Capacity int

	// MaxBytes caps the heap the cached entries take, split evenly
	// between the shards like Capacity. An entry counts its Data, its key
	// when the key is longer than 48 bytes (shorter keys are stored inside
	// the entry), and EntryOverhead (144) bytes for the cache's own
	// structure: a 1 KB session with a 43-byte key counts 1,168 bytes, and
	// a not-found marker 144. A record larger than its shard's share is
	// not cached. Default 0: no byte cap.
	MaxBytes int64

	// TTL is how long an installed record may be served from the cache.
	// A record is also never served at or after its own ExpiresAt.
	// Default DefaultTTL (5s).
	TTL time.Duration

	// NegativeTTL is how long a not-found marker (InstallNotFound) is
	// remembered. Default DefaultNegativeTTL (1s).
	NegativeTTL time.Duration

	// StaleGrace is how long a record past its TTL (but not past its own
	// ExpiresAt) is kept for Stale to return, for serving when the source
	// of truth cannot be reached. Get never returns it. Default 0: an
	// entry past its TTL is dropped when Get finds it.
	StaleGrace time.Duration

	// Shards is the number of independently locked shards, rounded up to
	// a power of two and lowered to the largest power of two not above
	// Capacity. Reads take no lock, so shards only spread the locks that
	// installs, removals and evictions take. Default: 4 × GOMAXPROCS
	// rounded up to a power of two (8 on a 2-core machine), halved while a
	// shard would hold fewer than 64 entries.
	Shards int

	// Admission makes InstallLoaded refuse a loaded record when caching
	// it would evict a record that is requested more often: a TinyLFU
	// filter (a count-min sketch of 4-bit counters with a doorkeeper
	// Bloom filter, halved every forty capacities' worth of accesses) in
	// front of the LRU order. On skewed traffic it keeps the frequently
	// used sessions that one-off requests would otherwise push out. Get
	// then also counts every access, two atomic updates of shared memory
	// per call. Install, for writes, always admits, so a node still reads
	// its own writes. Default false: every install is admitted.
	Admission bool

	// Now is the clock. Default: a coarse clock that a goroutine owned by
	// the cache refreshes every ClockResolution (1ms) and that Close
	// stops; reads then never call time.Now. A record is treated as
	// expired one ClockResolution before its ExpiresAt, so the coarse
	// clock's lag does not serve it late. Tests inject a fake clock here;
	// with Now set, no goroutine is started and expiry is exact.
	Now func() time.Time
}

// config is Options with the defaults applied and the per-shard limits
// worked out.
type config struct {
	shards      int
	capacity    int
	maxBytes    int64
	ttl         time.Duration
	negativeTTL time.Duration
	staleGrace  time.Duration
	admission   bool
	now         func() time.Time
}

// errNegative reports a negative Options field.
var errNegative = errors.New("local: negative option")

// resolve checks o and applies the defaults.
func (o Options) resolve() (config, error) {
	switch {
	case o.Capacity < 0:
		return config{}, fmt.Errorf("%w: Capacity %d", errNegative, o.Capacity)
	case o.MaxBytes < 0:
		return config{}, fmt.Errorf("%w: MaxBytes %d", errNegative, o.MaxBytes)
	case o.TTL < 0:
		return config{}, fmt.Errorf("%w: TTL %v", errNegative, o.TTL)
	case o.NegativeTTL < 0:
		return config{}, fmt.Errorf("%w: NegativeTTL %v", errNegative, o.NegativeTTL)
	case o.StaleGrace < 0:
		return config{}, fmt.Errorf("%w: StaleGrace %v", errNegative, o.StaleGrace)
	case o.Shards < 0:
		return config{}, fmt.Errorf("%w: Shards %d", errNegative, o.Shards)
	}
	cfg := config{
		capacity:    o.Capacity,
		maxBytes:    o.MaxBytes,
		ttl:         o.TTL,
		negativeTTL: o.NegativeTTL,
		staleGrace:  o.StaleGrace,
		admission:   o.Admission,
		now:         o.Now,
	}
	if cfg.capacity == 0 {
		cfg.capacity = DefaultCapacity
	}
	if cfg.ttl == 0 {
		cfg.ttl = DefaultTTL
	}
	if cfg.negativeTTL == 0 {
		cfg.negativeTTL = DefaultNegativeTTL
	}
	cfg.shards = shardCount(o.Shards, cfg.capacity, runtime.GOMAXPROCS(0))
	return cfg, nil
}

// shardCount returns the number of shards for the requested count (0 for
// the default), the capacity and GOMAXPROCS: a power of two, at least 1 and
// at most capacity.
func shardCount(requested, capacity, procs int) int {
	n := requested
	if n == 0 {
		n = ceilPow2(shardsPerProc * max(procs, 1))
		for n > 1 && capacity/n < minShardCapacity {
			n /= 2
		}
	}
	n = ceilPow2(min(n, maxShards))
	for n > capacity {
		n /= 2
	}
	return max(n, 1)
}

// ceilPow2 returns the smallest power of two >= n, for 1 <= n <= 1<<62.
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// split returns shard i's share of total when total is divided between n
// shards as evenly as possible; the shares add up to total.
func split(total int64, n, i int) int64 {
	share := total / int64(n)
	if int64(i) < total%int64(n) {
		share++
	}
	return share
}
