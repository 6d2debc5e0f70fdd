package local

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// shard is one independently locked part of the cache: two intrusive LRU
// lists under mu, one for records and one for not-found markers, that own
// recency order and capacity, and a lock-free table that readers probe.
// The table always holds exactly the items of the two lists; every change
// to any of them happens under mu.
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
	records     list   // the records, in recency order
	markers     list   // the not-found markers, in recency order
	seq         uint32 // moves to the front of either list, mod 2³²
	bytes       int64  // sum of item sizes
	capacity    int    // most items, records and markers
	maxMarkers  int    // most markers
	maxBytes    int64  // most bytes; 0 means no cap
	evictions   atomic.Uint64
	expirations atomic.Uint64
	rejections  atomic.Uint64 // loads refused by admission
	_           [cacheLine]byte
}

// markerShare is the part of a shard's capacity that markers may take:
// at most capacity/markerShare of them (and at least one).
const markerShare = 4

// init prepares s for capacity items and maxBytes bytes (0: no cap).
func (s *shard) init(capacity int, maxBytes int64) {
	s.records.init()
	s.markers.init()
	s.capacity = capacity
	s.maxMarkers = max(capacity/markerShare, 1)
	s.maxBytes = maxBytes
	s.tab.Store(newTable(0))
}

// list returns the LRU list that holds it.
func (s *shard) list(it *item) *list {
	if it.negative {
		return &s.markers
	}
	return &s.records
}

// peek returns the item under key, whose hash is h, fresh or not. The
// caller holds mu.
func (s *shard) peek(h uint64, key string) *item {
	return s.tab.Load().find(h, key)
}

// count returns the number of items in s. The caller holds mu.
func (s *shard) count() int {
	return s.records.len + s.markers.len
}

// fits reports whether an item of size bytes can be held by s at all.
func (s *shard) fits(size int64) bool {
	return s.maxBytes == 0 || size <= s.maxBytes
}

// put stores it in place of old (nil when the key is absent) at the front
// of its LRU list, after trimming s to make room for it. The caller holds
// mu and has checked fits.
func (s *shard) put(old, it *item, now int64) {
	t := s.tab.Load()
	if old != nil {
		t.replace(old, it)
		s.list(old).remove(old)
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
	s.trim(now, it)
	s.list(it).pushFront(it)
	s.seq++
	it.seen = s.seq
	s.bytes += it.size()
}

// trim removes items while s, with room for in (an item about to be
// linked), is over a limit, and up to two expired items from the tails of
// its lists even when it is not, so that expired records do not wait for
// capacity pressure to give their memory back. The caller holds mu.
func (s *shard) trim(now int64, in *item) {
	for reclaimed := 0; ; {
		v := s.pick(now, in, reclaimed < 2)
		if v == nil {
			return
		}
		if now >= v.fresh {
			reclaimed++
			s.expirations.Add(1)
		} else {
			s.evictions.Add(1)
		}
		s.remove(v)
	}
}

// pick returns the item to remove next to make room for in, or nil. Over
// the marker share it is the oldest marker. Over the capacity or the byte
// cap it is an expired tail if there is one, else the less recently used
// of the two tails (a marker on a tie), after the referenced items at the
// tails got their second chance (settle). Within the limits it is an
// expired tail, if reclaim is set. The caller holds mu.
func (s *shard) pick(now int64, in *item, reclaim bool) *item {
	count, bytes, markers := s.count()+1, s.bytes+in.size(), s.markers.len
	if in.negative {
		markers++
	}
	if markers > s.maxMarkers {
		s.settle(&s.markers)
		return s.markers.back()
	}
	over := count > s.capacity || (s.maxBytes > 0 && bytes > s.maxBytes)
	expired := func(it *item) bool { return it != nil && now >= it.fresh }
	rec, mark := s.records.back(), s.markers.back()
	switch {
	case (over || reclaim) && expired(rec):
		return rec
	case (over || reclaim) && expired(mark):
		return mark
	case !over:
		return nil
	}
	s.settle(&s.records)
	s.settle(&s.markers)
	rec, mark = s.records.back(), s.markers.back()
	switch {
	case mark == nil:
		return rec
	case rec == nil || int32(mark.seen-rec.seen) <= 0: // serial order, mod 2³²
		return mark
	}
	return rec
}

// displaced returns the fresh record that linking in would evict first,
// or nil when it would evict none (there is room, or an expired entry or
// a marker would go first). The caller holds mu. Admission compares a
// loaded record with it.
func (s *shard) displaced(now int64, in *item) *item {
	v := s.pick(now, in, false)
	if v == nil || v.negative || now >= v.fresh {
		return nil
	}
	return v
}

// settle gives the referenced items at the tail of l a second chance: it
// moves each to the front with its reference cleared, until the tail is an
// item that no hit referenced since its last move (or every item was
// moved once). This is the CLOCK approximation of LRU: instead of moving
// an entry on every hit, which needs the shard lock, a hit sets ref, and
// the order is corrected only where it matters, at the tail, by the writer
// about to evict. The caller holds mu.
func (s *shard) settle(l *list) {
	for n := l.len; n > 0; n-- {
		it := l.back()
		if !it.ref.Load() {
			return
		}
		it.ref.Store(false)
		l.moveToFront(it)
		s.seq++
		it.seen = s.seq
	}
}

// remove takes it, which is in s, out of s. The caller holds mu.
func (s *shard) remove(it *item) {
	s.list(it).remove(it)
	s.tab.Load().delete(it)
	s.bytes -= it.size()
}

// drop removes it, which is in s, and counts it as an expiration if it
// has expired. The caller holds mu.
func (s *shard) drop(it *item, now int64) {
	if now >= it.fresh {
		s.expirations.Add(1)
	}
	s.remove(it)
}

// purge empties s.
func (s *shard) purge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records.clear()
	s.markers.clear()
	s.bytes = 0
	s.tab.Store(newTable(0))
}

// expire removes it, which a reader found expired, if it is still in s.
// It gives up rather than wait when another goroutine holds the lock:
// reads never block on writes, and the expired item is removed later.
func (s *shard) expire(it *item) {
	if !s.mu.TryLock() {
		return
	}
	if it.linked() {
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
