package local

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestTableCollisions drives the lock-free index through probe chains of
// keys that share one hash, so that every transition is exercised.
func TestTableCollisions(t *testing.T) {
	const h = 5 // every item hashes here, so all probe one chain
	tab := newTable(4)
	if len(tab.slots) != 16 {
		t.Fatalf("newTable(4) has %d slots, want 16", len(tab.slots))
	}
	items := make([]*item, 6)
	for i := range items {
		items[i] = newItem(fmt.Sprintf("k%d", i), h, 0)
		tab.insert(items[i])
	}
	find := func(i int) *item { return tab.find(h, fmt.Sprintf("k%d", i)) }
	for i, it := range items {
		if got := find(i); got != it {
			t.Fatalf("find(k%d) = %p, want %p", i, got, it)
		}
	}
	if got := tab.find(h, "absent"); got != nil {
		t.Fatalf("find(absent) = %p, want nil", got)
	}
	if got := tab.find(h+1, "k0"); got != nil {
		t.Fatalf("find with another hash = %p, want nil", got)
	}

	// Deleting the head of the chain must not hide the rest.
	tab.delete(items[0])
	tab.delete(items[2])
	if find(0) != nil || find(2) != nil {
		t.Fatal("deleted items still found")
	}
	for _, i := range []int{1, 3, 4, 5} {
		if find(i) != items[i] {
			t.Fatalf("find(k%d) lost after deleting earlier items in its chain", i)
		}
	}
	if tab.live != 4 || tab.dead != 2 {
		t.Fatalf("live, dead = %d, %d; want 4, 2", tab.live, tab.dead)
	}

	// An insert reuses the first tombstone.
	again := newItem("k0", h, 0)
	tab.insert(again)
	if tab.slots[h].Load() != again || tab.live != 5 || tab.dead != 1 {
		t.Fatalf("insert did not reuse the tombstone at the head of the chain")
	}

	// A replace keeps the slot.
	next := newItem("k3", h, 0)
	tab.replace(items[3], next)
	if find(3) != next || tab.live != 5 {
		t.Fatal("replace did not swap the item in place")
	}

	// A rebuild keeps every item and drops the tombstones.
	r := tab.rebuilt(0)
	if r.live != 5 || r.dead != 0 || len(r.slots) != 32 {
		t.Fatalf("rebuilt: live, dead, size = %d, %d, %d", r.live, r.dead, len(r.slots))
	}
	for _, want := range []*item{again, items[1], next, items[4], items[5]} {
		if got := r.find(h, want.key()); got != want {
			t.Fatalf("rebuilt table lost %q", want.key())
		}
	}
}

func TestTableFull(t *testing.T) {
	tab := newTable(2) // 8 slots: at most 6 in use
	for i := range 5 {
		tab.insert(newItem(key(i), uint64(i), 0))
	}
	if tab.full() {
		t.Fatal("full with 5 of 8 slots used, want room for a sixth")
	}
	tab.insert(newItem(key(5), 5, 0))
	if !tab.full() {
		t.Fatal("not full with 6 of 8 slots used")
	}
}

// TestShardRebuildsTable churns one small shard so that tombstones force
// table rebuilds, and checks the index and the LRU agree throughout.
func TestShardRebuildsTable(t *testing.T) {
	c, _ := newTestCache(t, Options{Capacity: 4, Shards: 1})
	s := &c.shards[0]
	first := s.tab.Load()
	for i := range 100 {
		if i%5 == 0 {
			c.InstallNotFound(key(i), 0)
		} else {
			mustInstall(t, c, key(i), rec(1))
		}
		if i%2 == 0 {
			c.Remove(key(i))
		}
		tab := s.tab.Load()
		if tab.live != s.count() {
			t.Fatalf("after install %d the table holds %d items, the LRU lists %d", i, tab.live, s.count())
		}
		if 4*(tab.live+tab.dead) > 3*len(tab.slots) {
			t.Fatalf("table over its maximum load: %d live, %d dead, %d slots", tab.live, tab.dead, len(tab.slots))
		}
		for _, k := range append(listKeys(&s.records), listKeys(&s.markers)...) {
			if _, r := c.Get(k); r == Miss {
				t.Fatalf("key %q in an LRU list but Get = %v", k, r)
			}
		}
	}
	if s.tab.Load() == first {
		t.Fatal("the table was never rebuilt")
	}
}

// TestTableSizeFollowsContents checks that the read index grows with the
// items a shard holds, not with its capacity, and shrinks on Purge.
func TestTableSizeFollowsContents(t *testing.T) {
	c, _ := newTestCache(t, Options{Capacity: 100_000, Shards: 1})
	s := &c.shards[0]
	if n := len(s.tab.Load().slots); n != 8 {
		t.Fatalf("empty shard has %d slots, want 8", n)
	}
	for i := range 1000 {
		mustInstall(t, c, key(i), rec(1))
	}
	if n := len(s.tab.Load().slots); n < 1000*4/3 || n > 8*1001 {
		t.Fatalf("1000 items in %d slots, want between 4/3 and 8 slots an item", n)
	}
	c.Purge()
	if n := len(s.tab.Load().slots); n != 8 {
		t.Fatalf("purged shard has %d slots, want 8", n)
	}
}

func TestItemKeyCopy(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		inline bool
	}{
		{"storage key", strings.Repeat("a", 43), true},
		{"longest inline", strings.Repeat("b", inlineKey), true},
		{"long", strings.Repeat("c", inlineKey+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := newItem(tt.key, 1, 0)
			if it.key() != tt.key {
				t.Fatalf("key = %q, want %q", it.key(), tt.key)
			}
			data := unsafe.StringData(it.key())
			if data == unsafe.StringData(tt.key) {
				t.Fatal("the item shares the caller's key bytes, want a copy")
			}
			if inline := data == &it.inline[0]; inline != tt.inline {
				t.Fatalf("inline = %v for a key of %d bytes, want %v", inline, len(tt.key), tt.inline)
			}
		})
	}
	if it := newItem("", 1, 0); it.key() != "" {
		t.Fatalf("empty key stored as %q", it.key())
	}
}

// listKeys returns the keys of l's items, front to back. The caller holds
// the shard lock or owns the shard.
func listKeys(l *list) []string {
	var keys []string
	for it := l.root.next; it != &l.root; it = it.next {
		keys = append(keys, it.key())
	}
	if len(keys) != l.len {
		panic("list length out of step with its links")
	}
	return keys
}

// TestItemLayout checks that an item is two cache lines, what the
// memory budget (EntryOverhead) and the hit path's two-line read assume.
func TestItemLayout(t *testing.T) {
	if n := unsafe.Sizeof(item{}); n != itemBytes {
		t.Fatalf("item is %d bytes, want %d", n, itemBytes)
	}
	if off := unsafe.Offsetof(item{}.fresh); off != 64 {
		t.Fatalf("fresh at offset %d, want 64: the probe's fields must fill the first line", off)
	}
}

// TestEntryRoundTrip checks that an entry comes back from Get as it went
// in, although the item stores it in another shape: Data with its bytes
// (nil and empty kept apart), Version, and ExpiresAt to the nanosecond,
// far beyond the range of Unix nanoseconds too, in UTC.
func TestEntryRoundTrip(t *testing.T) {
	far := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	tests := []struct {
		name string
		e    Entry
	}{
		{"data and nanoseconds", Entry{Data: []byte("payload"), Version: 7, ExpiresAt: t0.Add(time.Hour + 123456789)}},
		{"nil data", Entry{Version: 1, ExpiresAt: t0.Add(time.Hour)}},
		{"empty data", Entry{Data: []byte{}, Version: 1, ExpiresAt: t0.Add(time.Hour)}},
		{"year 9999", Entry{Data: []byte("x"), Version: 1 << 60, ExpiresAt: far}},
		{"other zone", Entry{Data: []byte("x"), Version: 2, ExpiresAt: t0.Add(time.Hour).In(time.FixedZone("X", 3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, Options{TTL: ttl})
			mustInstall(t, c, "k", tt.e)
			got, r := c.Get("k")
			if r != Hit {
				t.Fatalf("Get = %v, want hit", r)
			}
			if !bytes.Equal(got.Data, tt.e.Data) || (got.Data == nil) != (tt.e.Data == nil) {
				t.Errorf("Data = %#v, want %#v", got.Data, tt.e.Data)
			}
			if got.Version != tt.e.Version {
				t.Errorf("Version = %d, want %d", got.Version, tt.e.Version)
			}
			if !got.ExpiresAt.Equal(tt.e.ExpiresAt) || got.ExpiresAt.Location() != time.UTC {
				t.Errorf("ExpiresAt = %v, want %v in UTC", got.ExpiresAt, tt.e.ExpiresAt)
			}
		})
	}
}

// TestOversizedKey checks that a key longer than the item can record is
// refused, not truncated into another key's entry.
func TestOversizedKey(t *testing.T) {
	c, _ := newTestCache(t, Options{TTL: ttl})
	long := strings.Repeat("k", maxKey+1)
	if c.Install(long, rec(1)) || c.InstallNotFound(long, 0) {
		t.Fatal("install of a key over 65,535 bytes = true, want false")
	}
	if _, r := c.Get(long); r != Miss {
		t.Fatalf("Get(oversized key) = %v, want miss", r)
	}
	if n := c.Len(); n != 0 {
		t.Fatalf("the cache holds %d entries after refused installs", n)
	}
}
