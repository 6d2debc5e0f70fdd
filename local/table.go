package local

import (
	"strings"
	"sync/atomic"
	"unsafe"
)

// item is one cached record or not-found marker. Every field but promoted
// is written before the item is published in a table and never after, so a
// reader that loaded the pointer may read them without a lock.
//
// The fields a hit reads come first, and a key of up to inlineKey bytes
// (storage keys are 43) is copied into the item itself: a probe then
// compares the key without a cache miss on a separate string, and the
// cache never pins the caller's key buffer.
type item struct {
	hash   uint64
	key    string // points into inline, or a private copy when longer
	inline [inlineKey]byte
	// fresh is the Unix nanosecond instant at which the item stops being
	// served: now < fresh is a hit (or a negative hit).
	fresh    int64
	negative bool // a not-found marker rather than a record
	// promoted is when the item was last moved to the front of its
	// shard's LRU list; hits promote it again only after promoteEvery.
	promoted atomic.Int64
	entry    Entry  // the record; zero for a marker
	floor    uint64 // a marker's floor: installs of versions <= floor are refused
}

// size is what it counts against the byte cap: len(key)+len(Data).
func (it *item) size() int64 {
	return int64(len(it.key)) + int64(len(it.entry.Data))
}

// inlineKey is the longest key stored inside its item.
const inlineKey = 48

// newItem returns an item for key, whose hash is h, fresh until fresh.
func newItem(key string, h uint64, fresh int64) *item {
	it := &item{hash: h, fresh: fresh}
	if len(key) <= inlineKey {
		n := copy(it.inline[:], key)
		it.key = unsafe.String(&it.inline[0], n)
	} else {
		it.key = strings.Clone(key)
	}
	return it
}

// tombstone marks a table slot whose item was removed. Probes go past it;
// inserts reuse it.
var tombstone = &item{}

// table is a shard's lock-free read index: an open-addressing hash table
// with linear probing whose slots are atomic pointers to immutable items.
//
// Readers (find) only load. Writers hold the shard lock and only make the
// transitions nil→item, tombstone→item, item→tombstone and item→item of
// the same key, so a probe never misses a key that stayed in the table for
// the whole probe. The table never fills beyond three quarters, so every
// probe ends at a nil slot. When an insert would pass that, the shard
// publishes a rebuilt copy without tombstones, sized for the items it
// holds: the table grows and shrinks with the shard's contents, not with
// its capacity. Readers still holding the old copy finish on a snapshot
// that no writer touches any more.
type table struct {
	slots []atomic.Pointer[item]
	mask  uint64
	live  int // items in slots; writers only
	dead  int // tombstones in slots; writers only
}

// newTable returns an empty table with room for n items at a load of at
// most one quarter, so that it takes at least as many inserts again before
// it needs a rebuild.
func newTable(n int) *table {
	size := ceilPow2(max(4*n, 8))
	return &table{slots: make([]atomic.Pointer[item], size), mask: uint64(size - 1)}
}

// find returns the item stored under key, whose hash is h, or nil. It takes
// no lock and allocates nothing.
func (t *table) find(h uint64, key string) *item {
	for i := h; ; i++ {
		it := t.slots[i&t.mask].Load()
		if it == nil {
			return nil
		}
		if it.hash == h && it.key == key && it != tombstone {
			return it
		}
	}
}

// full reports whether one more slot in use would pass the maximum load of
// three quarters.
func (t *table) full() bool {
	return 4*(t.live+t.dead+1) > 3*len(t.slots)
}

// insert stores it, whose key is not in the table, in the first free or
// tombstone slot of its probe sequence. The caller holds the shard lock and
// has checked full.
func (t *table) insert(it *item) {
	for i := it.hash; ; i++ {
		s := &t.slots[i&t.mask]
		switch s.Load() {
		case nil:
			t.live++
			s.Store(it)
			return
		case tombstone:
			t.live++
			t.dead--
			s.Store(it)
			return
		}
	}
}

// replace stores next in the slot of old, which holds the same key. The
// caller holds the shard lock.
func (t *table) replace(old, next *item) {
	for i := old.hash; ; i++ {
		s := &t.slots[i&t.mask]
		switch s.Load() {
		case old:
			s.Store(next)
			return
		case nil:
			panic("local: replaced item is not in its table")
		}
	}
}

// delete turns the slot of it into a tombstone. The caller holds the shard
// lock.
func (t *table) delete(it *item) {
	for i := it.hash; ; i++ {
		s := &t.slots[i&t.mask]
		switch s.Load() {
		case it:
			t.live--
			t.dead++
			s.Store(tombstone)
			return
		case nil:
			panic("local: deleted item is not in its table")
		}
	}
}

// rebuilt returns a copy of t without tombstones, sized by newTable for its
// items and extra more. The caller holds the shard lock and publishes it.
func (t *table) rebuilt(extra int) *table {
	n := newTable(t.live + extra)
	for i := range t.slots {
		if it := t.slots[i].Load(); it != nil && it != tombstone {
			n.insert(it)
		}
	}
	return n
}
