package local

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// shard is one independently locked part of the cache: two
// simplelru.LRUs that own recency order and capacity, one for records and
// one for not-found markers, and a lock-free table that readers use
// instead of the LRUs' maps. The table always holds exactly the items of
// the two lists; every change to any of them happens under mu.
//
// Markers have their own list so that they can be held to a share of the
// capacity (maxMarkers): a flood of requests with random or forged tokens
// makes one marker each, and with a single list they would push every
// real session out of the cache, the opposite of what negative caching is
// for. With the split, the flood only recycles markers.
type shard struct {
	// tab is all that readers touch, alone on its cache line so that
	// writers taking mu do not invalidate it for them.
	tab atomic.Pointer[table]
	_   [cacheLine - 8]byte

	mu          sync.Mutex
	records     *simplelru.LRU[string, *item] // key → record, in recency order
	markers     *simplelru.LRU[string, *item] // key → marker, in recency order
	bytes       int64                         // sum of item sizes
	capacity    int                           // most items, records and markers
	maxMarkers  int                           // most markers
	maxBytes    int64                         // most bytes; 0 means no cap
	evictions   atomic.Uint64                 // fresh items pushed out by a limit
	expirations atomic.Uint64                 // expired items removed or replaced
	_           [cacheLine]byte
}

// markerShare is the part of a shard's capacity that markers may take:
// at most capacity/markerShare of them (and at least one).
const markerShare = 4

// init prepares s for capacity items and maxBytes bytes (0: no cap).
func (s *shard) init(capacity int, maxBytes int64) {
	s.records = newList(capacity)
	s.markers = newList(capacity)
	s.capacity = capacity
	s.maxMarkers = max(capacity/markerShare, 1)
	s.maxBytes = maxBytes
	s.tab.Store(newTable(0))
}

// newList returns an LRU list that never evicts by itself: trim does, so
// that the table and the counters follow. One spare slot holds an insert
// until trim runs.
func newList(capacity int) *simplelru.LRU[string, *item] {
	l, err := simplelru.NewLRU[string, *item](capacity+1, nil)
	if err != nil {
		panic(err) // capacity >= 1 by construction
	}
	return l
}

// list returns the LRU list that holds it.
func (s *shard) list(it *item) *simplelru.LRU[string, *item] {
	if it.negative {
		return s.markers
	}
	return s.records
}

// peek returns the item under key, fresh or not, without promoting it.
// The caller holds mu. (The table could answer too, but asking the list
// warms the map lookup that the Add after it repeats: measured no faster.)
func (s *shard) peek(key string) *item {
	if it, ok := s.records.Peek(key); ok {
		return it
	}
	it, _ := s.markers.Peek(key)
	return it
}

// count returns the number of items in s. The caller holds mu.
func (s *shard) count() int {
	return s.records.Len() + s.markers.Len()
}

// fits reports whether an item of size bytes can be held by s at all.
func (s *shard) fits(size int64) bool {
	return s.maxBytes == 0 || size <= s.maxBytes
}

// put stores it in place of old (nil when the key is absent), at the front
// of its LRU list, then trims s back within its limits. The caller holds
// mu and has checked fits.
func (s *shard) put(old, it *item, now int64) {
	it.promoted.Store(now)
	t := s.tab.Load()
	if old != nil {
		t.replace(old, it)
		if old.negative != it.negative {
			s.list(old).Remove(old.key)
		} // else the Add below replaces it in place, without allocating
		s.bytes -= old.size()
		if now >= old.fresh {
			s.expirations.Add(1)
		}
	} else {
		if t.full() {
			t = t.rebuilt(1)
			s.tab.Store(t)
		}
		t.insert(it)
	}
	s.list(it).Add(it.key, it)
	s.bytes += it.size()
	s.trim(now)
}

// trim removes items while s is over a limit, and up to two expired items
// from the tails of its lists even when it is not, so that expired records
// do not wait for capacity pressure to give their memory back. The caller
// holds mu.
func (s *shard) trim(now int64) {
	for reclaimed := 0; ; {
		v := s.victim(now, reclaimed < 2)
		if v == nil {
			return
		}
		if now >= v.fresh {
			reclaimed++
			s.expirations.Add(1)
		} else {
			s.evictions.Add(1)
		}
		s.list(v).Remove(v.key)
		s.unlink(v)
	}
}

// victim returns the item trim removes next, or nil. Over the marker
// share it is the oldest marker. Over the capacity or the byte cap it is
// an expired tail if there is one, else the less recently used of the two
// tails (a marker on a tie). Within the limits it is an expired tail, if
// reclaim is set.
func (s *shard) victim(now int64, reclaim bool) *item {
	_, rec, hasRec := s.records.GetOldest()
	_, mark, hasMark := s.markers.GetOldest()
	expired := func(it *item, ok bool) bool { return ok && now >= it.fresh }
	over := s.count() > s.capacity || (s.maxBytes > 0 && s.bytes > s.maxBytes)
	switch {
	case s.markers.Len() > s.maxMarkers:
		return mark
	case (over || reclaim) && expired(rec, hasRec):
		return rec
	case (over || reclaim) && expired(mark, hasMark):
		return mark
	case !over:
		return nil
	case !hasMark:
		return rec
	case !hasRec || mark.promoted.Load() <= rec.promoted.Load():
		return mark
	}
	return rec
}

// remove takes it, which is under its key in s, out of s. The caller
// holds mu.
func (s *shard) remove(it *item) {
	s.list(it).Remove(it.key)
	s.unlink(it)
}

// drop removes it, which is under its key in s, and counts it as an
// expiration if it has expired. The caller holds mu.
func (s *shard) drop(it *item, now int64) {
	if now >= it.fresh {
		s.expirations.Add(1)
	}
	s.remove(it)
}

// unlink removes it from the table after the LRU has let it go.
func (s *shard) unlink(it *item) {
	s.tab.Load().delete(it)
	s.bytes -= it.size()
}

// purge empties s.
func (s *shard) purge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records.Purge()
	s.markers.Purge()
	s.bytes = 0
	s.tab.Store(newTable(0))
}

// promote moves it to the front of the LRU order if it is still the item
// under its key. It gives up rather than wait when another goroutine holds
// the lock: the next hit tries again, and reads never block on writes.
func (s *shard) promote(it *item, now int64) {
	if !s.mu.TryLock() {
		return
	}
	if s.peek(it.key) == it {
		s.list(it).Get(it.key)
	}
	it.promoted.Store(now)
	s.mu.Unlock()
}

// expire removes it, which a reader found expired, if it is still the item
// under its key. Like promote it does not wait for the lock.
func (s *shard) expire(it *item) {
	if !s.mu.TryLock() {
		return
	}
	if s.peek(it.key) == it {
		s.remove(it)
		s.expirations.Add(1)
	}
	s.mu.Unlock()
}

// len returns the number of items in s, fresh or not.
func (s *shard) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count()
}

// freshUntil returns the instant an item installed at now stops being
// served: now+ttl, but never after expiresAt-slack.
func freshUntil(now int64, ttl time.Duration, expiresAt, slack int64) int64 {
	if expiresAt < math.MinInt64+slack {
		return math.MinInt64
	}
	return min(addNanos(now, ttl), expiresAt-slack)
}
