package local

import (
	"hash/maphash"
	"math/bits"
	"strconv"
	"time"
	"unsafe"
)

// Entry is a cached session record. Data is shared between the cache and
// every caller that gets the entry: callers must not modify it.
type Entry struct {
	// Data is the session payload, read-only.
	Data []byte
	// Version is the record's version; installs compare it.
	Version uint64
	// ExpiresAt is the record's own absolute expiry. The cache never
	// serves the entry at or after it.
	ExpiresAt time.Time
}

// Result tells what Get found.
type Result uint8

const (
	// Miss means the cache holds nothing fresh under the key: the caller
	// must ask the source of truth.
	Miss Result = iota
	// Hit means the returned Entry is live and fresh.
	Hit
	// NegativeHit means the cache recently learnt that the key does not
	// exist (InstallNotFound): the caller may answer "not found" without
	// asking the source of truth.
	NegativeHit
)

// String returns "miss", "hit" or "negative-hit".
func (r Result) String() string {
	switch r {
	case Miss:
		return "miss"
	case Hit:
		return "hit"
	case NegativeHit:
		return "negative-hit"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Cache is the in-process tier: a sharded, expiring, version-aware LRU of
// session records keyed by storage key. All methods are safe for
// concurrent use. See the package documentation for the design.
type Cache struct {
	// Read-only after New; read by every Get.
	shards      []shard
	shardShift  uint // 64 - log2(len(shards)): a hash's top bits pick its shard
	stripes     []stripe
	stripeShift uint // 64 - log2(len(stripes))
	seed        maphash.Seed
	ttl         time.Duration
	negativeTTL time.Duration
	staleGrace  int64   // Options.StaleGrace in nanoseconds
	slack       int64   // expiry margin for the clock's lag, in nanoseconds
	admit       *sketch // access frequencies for Options.Admission, or nil

	clock clock // padded: its ticking word has its own cache line
}

// New returns a Cache configured by o, and an error if a field of o is
// negative. The cache starts a clock goroutine unless o.Now is set; Close
// stops it.
func New(o Options) (*Cache, error) {
	cfg, err := o.resolve()
	if err != nil {
		return nil, err
	}
	c := &Cache{
		shards:      make([]shard, cfg.shards),
		shardShift:  uint(64 - bits.TrailingZeros(uint(cfg.shards))),
		stripes:     newStripes(),
		seed:        maphash.MakeSeed(),
		ttl:         cfg.ttl,
		negativeTTL: cfg.negativeTTL,
		staleGrace:  int64(cfg.staleGrace),
	}
	if cfg.admission {
		c.admit = newSketch(cfg.capacity)
	}
	c.stripeShift = uint(64 - bits.TrailingZeros(uint(len(c.stripes))))
	for i := range c.shards {
		c.shards[i].init(
			int(split(int64(cfg.capacity), cfg.shards, i)),
			split(cfg.maxBytes, cfg.shards, i),
		)
	}
	if cfg.now == nil {
		c.slack = int64(ClockResolution)
	}
	c.clock.start(cfg.now, ClockResolution)
	return c, nil
}

// locate returns the shard that holds key and the key's hash.
func (c *Cache) locate(key string) (*shard, uint64) {
	h := maphash.String(c.seed, key)
	return &c.shards[h>>c.shardShift], h
}

// Get returns the entry cached under key and Hit if it is live and fresh:
// within the cache TTL of its install and before its ExpiresAt. It returns
// NegativeHit while a not-found marker for key is fresh, and Miss
// otherwise. An expired entry counts as a miss and is removed, unless
// Stale may still return it (Options.StaleGrace).
//
// Get takes no lock and allocates nothing. It marks the entry referenced,
// a store only when the mark is not already set, and the writer that next
// finds the entry at the tail of the LRU order moves it to the front
// instead of evicting it (shard.settle). With Options.Admission it also
// counts the access in the frequency sketch.
func (c *Cache) Get(key string) (Entry, Result) {
	s, h := c.locate(key)
	if c.admit != nil {
		c.admit.record(uint32(h))
	}
	it := s.tab.Load().find(h, key)
	if it == nil {
		c.stripe().misses.Add(1)
		return Entry{}, Miss
	}
	now := c.clock.read()
	if now >= it.fresh {
		c.stripe().misses.Add(1)
		if !c.staleable(it, now) {
			s.expire(it)
		}
		return Entry{}, Miss
	}
	if it.negative {
		c.stripe().negativeHits.Add(1)
		return Entry{}, NegativeHit
	}
	// Check, then set: the load keeps a hot entry's line shared between
	// cores. Racing with settle, which clears the bit under the shard lock,
	// either order is right: a hit that lands just after the clear leaves
	// the bit set, which is what a hit after the second chance means.
	if !it.ref.Load() {
		it.ref.Store(true)
	}
	c.stripe().hits.Add(1)
	// it.entry(), written out: the call is too large to inline, and the
	// call with its 56-byte result cost 15% of a hit (measured against a
	// map read in BenchmarkHit).
	return Entry{
		Data:      unsafe.Slice(it.data, it.dataLen),
		Version:   it.version,
		ExpiresAt: time.Unix(it.expSec, int64(it.expNsec)).UTC(),
	}, Hit
}

// Len returns the number of entries held, records and not-found markers,
// including expired ones not yet removed. It never exceeds the capacity.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].len()
	}
	return n
}

// Purge removes every entry. Counters keep their values. It is meant for
// a node that lost its invalidation subscription and can no longer trust
// what it holds.
func (c *Cache) Purge() {
	for i := range c.shards {
		c.shards[i].purge()
	}
}

// Close stops the clock goroutine, if the cache started one, and waits for
// it to return. It is safe to call more than once. The cache stays usable
// after Close, reading the precise time on every call instead.
func (c *Cache) Close() error {
	c.clock.close()
	return nil
}
