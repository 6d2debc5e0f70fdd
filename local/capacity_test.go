package local

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// key returns the i-th test key.
func key(i int) string { return fmt.Sprintf("key-%04d", i) }

func TestCapacityAcrossShards(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		shards   int
	}{
		{"one shard", 10, 1},
		{"even split", 64, 4},
		{"uneven split", 100, 8},
		{"default shards", 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, Options{Capacity: tt.capacity, Shards: tt.shards})
			const installs = 5000
			for i := range installs {
				if i%3 == 0 {
					c.InstallNotFound(key(i), 0) // markers count too
				} else {
					mustInstall(t, c, key(i), rec(1))
				}
				if n := c.Len(); n > tt.capacity {
					t.Fatalf("after %d installs Len = %d, above Capacity %d", i+1, n, tt.capacity)
				}
			}
			total := 0
			for i := range c.shards {
				s := &c.shards[i]
				n := s.len()
				if n > s.capacity {
					t.Errorf("shard %d holds %d, above its share %d", i, n, s.capacity)
				}
				if m := s.markers.len; m > s.maxMarkers {
					t.Errorf("shard %d holds %d markers, above its %d", i, m, s.maxMarkers)
				}
				total += s.capacity
			}
			if total != tt.capacity {
				t.Errorf("shard shares add up to %d, want Capacity %d", total, tt.capacity)
			}
			st := c.Stats()
			if st.Entries != c.Len() || st.Evictions != uint64(installs-st.Entries) {
				t.Errorf("Stats = %+v, want Entries = Len and Evictions = %d - Entries", st, installs)
			}
			// The most recent install of each shard survives.
			wantGet(t, c, key(installs-1), Hit, 1)
		})
	}
}

// TestLRUOrder checks recency without a clock: a hit marks its entry, and
// the install that would evict a marked entry moves it to the front
// instead (a second chance), whatever the time. The hit itself moves
// nothing and takes no lock.
func TestLRUOrder(t *testing.T) {
	t.Run("a hit saves the tail", func(t *testing.T) {
		c, _ := newTestCache(t, Options{Capacity: 3, Shards: 1, TTL: ttl})
		for _, k := range []string{"a", "b", "c"} {
			mustInstall(t, c, k, rec(1))
		}
		wantGet(t, c, "a", Hit, 1) // no time passes: recency is not timed
		mustInstall(t, c, "d", rec(1))
		for k, want := range map[string]Result{"a": Hit, "b": Miss, "c": Hit, "d": Hit} {
			wantGet(t, c, k, want, 1)
		}
		if st := c.Stats(); st.Evictions != 1 {
			t.Errorf("Evictions = %d, want 1", st.Evictions)
		}
	})
	t.Run("hits do not move entries", func(t *testing.T) {
		const capacity = 16
		c, _ := newTestCache(t, Options{Capacity: capacity, Shards: 1, TTL: ttl})
		s := &c.shards[0]
		for i := range capacity {
			mustInstall(t, c, key(i), rec(1))
		}
		moves := s.seq
		for i := range capacity {
			wantGet(t, c, key(i), Hit, 1)
		}
		if s.seq != moves || !slices.Equal(listKeys(&s.records), []string{
			key(15), key(14), key(13), key(12), key(11), key(10), key(9), key(8),
			key(7), key(6), key(5), key(4), key(3), key(2), key(1), key(0),
		}) {
			t.Fatalf("hits reordered the list: seq %d -> %d, order %q", moves, s.seq, listKeys(&s.records))
		}
		// Every entry is referenced: the next install moves them all once,
		// clearing their marks, and evicts the oldest.
		mustInstall(t, c, key(capacity), rec(1))
		wantGet(t, c, key(0), Miss, 0)
		for i := 1; i <= capacity; i++ {
			wantGet(t, c, key(i), Hit, 1)
		}
	})
	t.Run("unreferenced goes first", func(t *testing.T) {
		const capacity = 16
		c, _ := newTestCache(t, Options{Capacity: capacity, Shards: 1, TTL: ttl})
		for i := range capacity {
			mustInstall(t, c, key(i), rec(1))
		}
		for _, i := range []int{0, 1, 2, 5} {
			wantGet(t, c, key(i), Hit, 1)
		}
		mustInstall(t, c, key(capacity), rec(1))
		mustInstall(t, c, key(capacity+1), rec(1))
		for i, want := range map[int]Result{0: Hit, 1: Hit, 2: Hit, 3: Miss, 4: Miss, 5: Hit, 6: Hit} {
			wantGet(t, c, key(i), want, 1)
		}
	})
}

func TestVictim(t *testing.T) {
	const later = 200 * time.Millisecond // past the promotion interval
	tests := []struct {
		name     string
		capacity int
		setup    func(c *Cache, clk *fakeClock)
		gone     []string
		kept     []string
		want     Stats // Evictions and Expirations only
	}{
		{
			name:     "older record before newer marker",
			capacity: 2,
			setup: func(c *Cache, clk *fakeClock) {
				c.Install("a", rec(1))
				clk.Advance(later)
				c.InstallNotFound("m", 0)
			},
			gone: []string{"a"},
			kept: []string{"m"},
			want: Stats{Evictions: 1},
		},
		{
			name:     "older marker before newer record",
			capacity: 2,
			setup: func(c *Cache, clk *fakeClock) {
				c.InstallNotFound("m", 0)
				clk.Advance(later)
				c.Install("a", rec(1))
			},
			gone: []string{"m"},
			kept: []string{"a"},
			want: Stats{Evictions: 1},
		},
		{
			name:     "expired record before fresh older marker",
			capacity: 2,
			setup: func(c *Cache, clk *fakeClock) {
				c.InstallNotFound("m", 0)
				c.Install("a", Entry{Version: 1, ExpiresAt: t0.Add(time.Second)})
				clk.Advance(2 * time.Second)
			},
			gone: []string{"a"},
			kept: []string{"m"},
			want: Stats{Expirations: 1},
		},
		{
			name:     "markers held to a quarter of the capacity",
			capacity: 8,
			setup: func(c *Cache, clk *fakeClock) {
				c.InstallNotFound("m1", 0)
				c.InstallNotFound("m2", 0)
				clk.Advance(later)
				c.Install("a", rec(1))
			},
			gone: []string{"m1"},
			kept: []string{"m2", "a"},
			want: Stats{Evictions: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{Capacity: tt.capacity, Shards: 1, TTL: ttl, NegativeTTL: 10 * time.Second})
			tt.setup(c, clk)
			// The install that pushes the shard over a limit.
			if tt.capacity == 2 {
				mustInstall(t, c, "new", rec(1))
			} else {
				c.InstallNotFound("new", 0)
			}
			for _, k := range tt.gone {
				wantGet(t, c, k, Miss, 0)
			}
			for _, k := range tt.kept {
				if _, r := c.Get(k); r == Miss {
					t.Errorf("Get(%q) = miss, want it kept", k)
				}
			}
			st := c.Stats()
			if st.Evictions != tt.want.Evictions || st.Expirations != tt.want.Expirations {
				t.Errorf("evictions, expirations = %d, %d; want %d, %d",
					st.Evictions, st.Expirations, tt.want.Evictions, tt.want.Expirations)
			}
		})
	}
}

// TestMarkersCannotFlushRecords floods the cache with not-found markers,
// as random or forged tokens would, and checks the sessions stay cached.
func TestMarkersCannotFlushRecords(t *testing.T) {
	const capacity, sessions = 400, 150
	c, _ := newTestCache(t, Options{Capacity: capacity, Shards: 4})
	for i := range sessions {
		mustInstall(t, c, key(i), rec(1))
	}
	for i := range 10 * capacity {
		if !c.InstallNotFound(fmt.Sprintf("forged-%d", i), 0) {
			t.Fatalf("InstallNotFound #%d refused", i)
		}
	}
	for i := range sessions {
		wantGet(t, c, key(i), Hit, 1)
	}
	markers := 0
	for i := range c.shards {
		markers += c.shards[i].markers.len
	}
	if markers > capacity/markerShare {
		t.Fatalf("%d markers held, want at most a quarter of %d", markers, capacity)
	}
	wantGet(t, c, fmt.Sprintf("forged-%d", 10*capacity-1), NegativeHit, 0)
}

func TestMaxBytes(t *testing.T) {
	data := func(n int) Entry {
		e := rec(1)
		e.Data = bytes.Repeat([]byte{'x'}, n)
		return e
	}
	const each = EntryOverhead + 30 // a record "kN" with 30 bytes of data
	const capBytes = 3*each + 4
	c, _ := newTestCache(t, Options{Shards: 1, MaxBytes: capBytes})
	for i := range 3 {
		mustInstall(t, c, fmt.Sprintf("k%d", i), data(30))
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	mustInstall(t, c, "k3", data(30))
	wantGet(t, c, "k0", Miss, 0)
	wantGet(t, c, "k3", Hit, 1)
	if st := c.Stats(); st.Evictions != 1 || st.Entries != 3 {
		t.Fatalf("Stats = %+v, want 1 eviction and 3 entries", st)
	}
	if got := c.shards[0].bytes; got != 3*each {
		t.Fatalf("bytes = %d, want %d", got, 3*each)
	}

	// A record larger than the cap is refused, and the stale version it
	// would have replaced goes too.
	big := data(capBytes - EntryOverhead + 1)
	big.Version = 2
	if c.Install("k3", big) {
		t.Fatal("Install of a record over MaxBytes = true, want false")
	}
	wantGet(t, c, "k3", Miss, 0)
	if c.InstallNotFound(strings.Repeat("k", capBytes-EntryOverhead+1), 0) {
		t.Fatal("InstallNotFound with a key over MaxBytes = true, want false")
	}
	if got := c.shards[0].bytes; got != 2*each {
		t.Fatalf("bytes = %d, want %d after the refused install removed k3", got, 2*each)
	}

	// One large record pushes out as many as it needs.
	mustInstall(t, c, "k4", data(capBytes-EntryOverhead))
	if n := c.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 after a full-cap install", n)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"Capacity", Options{Capacity: -1}},
		{"MaxBytes", Options{MaxBytes: -1}},
		{"TTL", Options{TTL: -time.Second}},
		{"NegativeTTL", Options{NegativeTTL: -time.Second}},
		{"Shards", Options{Shards: -1}},
	}
	for _, tt := range tests {
		t.Run("negative "+tt.name, func(t *testing.T) {
			c, err := New(tt.o)
			if !errors.Is(err, errNegative) || c != nil {
				t.Fatalf("New = %v, %v; want nil and an error wrapping errNegative", c, err)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("error %q does not name %s", err, tt.name)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, _ := newTestCache(t, Options{})
		if c.ttl != DefaultTTL || c.negativeTTL != DefaultNegativeTTL {
			t.Errorf("TTLs = %v, %v; want %v, %v", c.ttl, c.negativeTTL, DefaultTTL, DefaultNegativeTTL)
		}
		total := 0
		for i := range c.shards {
			total += c.shards[i].capacity
			if c.shards[i].maxBytes != 0 {
				t.Errorf("shard %d has a byte cap %d, want none", i, c.shards[i].maxBytes)
			}
		}
		if total != DefaultCapacity {
			t.Errorf("capacity = %d, want %d", total, DefaultCapacity)
		}
		if c.slack != 0 {
			t.Errorf("slack = %d with an injected clock, want 0", c.slack)
		}
	})
}

func TestShardCount(t *testing.T) {
	tests := []struct {
		name                      string
		requested, capacity, proc int
		want                      int
	}{
		{"default on 2 cores", 0, 10000, 2, 8},
		{"default on 1 core", 0, 10000, 1, 4},
		{"default on 64 cores keeps 64 entries a shard", 0, 10000, 64, 128},
		{"default for a small cache", 0, 100, 2, 1},
		{"default for a cache of 256", 0, 256, 2, 4},
		{"requested is rounded up", 3, 100, 2, 4},
		{"requested above capacity", 16, 5, 2, 4},
		{"capacity 1", 0, 1, 8, 1},
		{"requested huge", 1 << 30, 1 << 20, 2, maxShards},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shardCount(tt.requested, tt.capacity, tt.proc); got != tt.want {
				t.Fatalf("shardCount(%d, %d, %d) = %d, want %d",
					tt.requested, tt.capacity, tt.proc, got, tt.want)
			}
		})
	}
}
