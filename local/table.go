package local

import (
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// item is one cached record or not-found marker, laid out in exactly 128
// bytes, two cache lines (Go's 128-byte size class places them on 128-byte
// boundaries): the first holds what a probe compares, the second what a
// hit returns, then the LRU links. A key of up to inlineKey bytes (storage
// keys are 43) is copied into the item itself, so a probe compares it
// without a cache miss on a separate string and the cache never pins the
// caller's key buffer. TestItemLayout checks the size.
//
// Every field but seen, prev and next is written before the item is
// published in a table and never after, so a reader that loaded the
// pointer may read them without a lock. ref is atomic; seen, prev and
// next belong to the shard lock and no reader looks at them.
type item struct {
	// Line 0: the probe.
	keyData  *byte  // the key's bytes: &inline[0], or a private copy when longer
	keyLen   uint16 // keys are at most maxKey bytes
	negative bool   // a not-found marker rather than a record
	hash     uint32 // low half of the key's hash: where the probe starts
	inline   [inlineKey]byte

	// Line 1: the hit, then the links.
	//
	// fresh is the Unix nanosecond instant at which the item stops being
	// served: now < fresh is a hit (or a negative hit).
	fresh   int64
	data    *byte  // the record's Data, with dataLen bytes
	dataLen uint32 // records are at most maxData bytes
	expNsec uint32 // ExpiresAt's nanosecond within expSec
	version uint64 // the record's Version, or a marker's floor
	expSec  int64  // ExpiresAt in Unix seconds
	// seen is its shard's move count (mod 2³²) when the item last went to
	// the front of its list, under the shard lock: it orders the tails of
	// the two lists.
	seen uint32
	// ref is set by a hit and cleared when the item, found referenced at
	// the tail of its list, is given a second chance (shard.settle).
	ref  atomic.Bool
	prev *item // LRU neighbours, under the shard lock
	next *item
}

const (
	// inlineKey is the longest key stored inside its item.
	inlineKey = 48
	// maxKey is the longest key the cache takes (remote.ValidKey allows
	// 1024 bytes).
	maxKey = 1<<16 - 1
	// maxData is the largest record the cache takes (DynamoDB items are at
	// most 400 KB).
	maxData = 1<<32 - 1
	// itemBytes is the heap an item takes.
	itemBytes = 128
	// slotBytes is what an item's index slot costs on average: 8 bytes at
	// a load between a quarter and three quarters.
	slotBytes = 16
	// EntryOverhead is what the cache counts against Options.MaxBytes for
	// each entry besides its data and, when longer than 48 bytes, its key:
	// the item (which holds a key of up to 48 bytes) and its share of the
	// read index.
	EntryOverhead = itemBytes + slotBytes
)

// newItem returns an item for key, whose hash is h, fresh until fresh.
func newItem(key string, h uint64, fresh int64) *item {
	it := &item{hash: uint32(h), fresh: fresh, keyLen: uint16(len(key))}
	if len(key) <= inlineKey {
		copy(it.inline[:], key)
		it.keyData = &it.inline[0]
	} else {
		it.keyData = unsafe.StringData(strings.Clone(key))
	}
	return it
}

// setEntry stores e in a record item.
func (it *item) setEntry(e Entry) {
	it.data = unsafe.SliceData(e.Data)
	it.dataLen = uint32(len(e.Data))
	it.version = e.Version
	it.expSec = e.ExpiresAt.Unix()
	it.expNsec = uint32(e.ExpiresAt.Nanosecond())
}

// key returns the item's key.
func (it *item) key() string {
	return unsafe.String(it.keyData, it.keyLen)
}

// entry returns the record an item holds. ExpiresAt comes back in UTC,
// without a monotonic clock reading.
func (it *item) entry() Entry {
	return Entry{
		Data:      unsafe.Slice(it.data, it.dataLen),
		Version:   it.version,
		ExpiresAt: time.Unix(it.expSec, int64(it.expNsec)).UTC(),
	}
}

// size is what it counts against the byte cap: EntryOverhead, the data,
// and the key when it does not fit in the item.
func (it *item) size() int64 {
	return entrySize(int(it.keyLen), int(it.dataLen))
}

// entrySize is the size of an entry with a keyLen-byte key and dataLen
// bytes of data.
func entrySize(keyLen, dataLen int) int64 {
	n := int64(EntryOverhead) + int64(dataLen)
	if keyLen > inlineKey {
		n += int64(keyLen)
	}
	return n
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
	h32 := uint32(h)
	for i := uint64(h32); ; i++ {
		it := t.slots[i&t.mask].Load()
		if it == nil {
			return nil
		}
		if it.hash == h32 && int(it.keyLen) == len(key) && it.key() == key && it != tombstone {
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
	for i := uint64(it.hash); ; i++ {
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
	for i := uint64(old.hash); ; i++ {
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
	for i := uint64(it.hash); ; i++ {
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

// expiresNanos returns a record's ExpiresAt in Unix nanoseconds, saturated
// like unixNanos.
func (it *item) expiresNanos() int64 {
	return saturatedNanos(it.expSec, int64(it.expNsec))
}
