package local

import (
	"testing"
	"time"
)

// ttl and negTTL are the TTLs of the caches in the write-side tests.
const (
	ttl    = 5 * time.Second
	negTTL = time.Second
)

// state is something to put under the key before the operation under test.
type state struct {
	version  uint64 // a record of this version, if > 0 and !negative
	expires  time.Duration
	negative bool   // a not-found marker instead
	floor    uint64 // the marker's floor
	age      time.Duration
}

// setup installs st under key, then lets st.age pass.
func (st state) setup(tb testing.TB, c *Cache, clk *fakeClock, key string) {
	tb.Helper()
	switch {
	case st.negative:
		if !c.InstallNotFound(key, st.floor) {
			tb.Fatalf("setup: InstallNotFound(%q, %d) = false", key, st.floor)
		}
	case st.version > 0:
		e := rec(st.version)
		if st.expires != 0 {
			e.ExpiresAt = t0.Add(st.expires)
		}
		mustInstall(tb, c, key, e)
	}
	clk.Advance(st.age)
}

func TestInstall(t *testing.T) {
	tests := []struct {
		name    string
		before  state
		entry   Entry
		want    bool
		result  Result // what Get returns afterwards
		version uint64 // the version a Hit returns
	}{
		{"nothing cached", state{}, rec(1), true, Hit, 1},
		{"older version cached", state{version: 1}, rec(2), true, Hit, 2},
		{"newer version cached", state{version: 3}, rec(2), false, Hit, 3},
		{"same version, same expiry", state{version: 2}, rec(2), false, Hit, 2},
		{"same version, later expiry (touch)", state{version: 2, expires: 30 * time.Minute}, rec(2), true, Hit, 2},
		{"same version, earlier expiry", state{version: 2, expires: 2 * time.Hour}, rec(2), false, Hit, 2},
		{"marker with floor below", state{negative: true, floor: 2}, rec(3), true, Hit, 3},
		{"marker with floor equal", state{negative: true, floor: 2}, rec(2), false, NegativeHit, 0},
		{"marker with floor above", state{negative: true, floor: 5}, rec(2), false, NegativeHit, 0},
		{"marker with floor 0", state{negative: true}, rec(1), true, Hit, 1},
		{"newer version cached but past TTL", state{version: 5, age: ttl}, rec(1), true, Hit, 1},
		{"marker with high floor past NegativeTTL", state{negative: true, floor: 9, age: negTTL}, rec(1), true, Hit, 1},
		{"entry already expired", state{}, Entry{Version: 1, ExpiresAt: t0.Add(-time.Second)}, false, Miss, 0},
		{"entry expiring now", state{}, Entry{Version: 1, ExpiresAt: t0}, false, Miss, 0},
		{"entry with zero ExpiresAt", state{}, Entry{Version: 1}, false, Miss, 0},
		{"expired entry leaves older record", state{version: 1}, Entry{Version: 2, ExpiresAt: t0}, false, Hit, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL})
			tt.before.setup(t, c, clk, "k")
			if got := c.Install("k", tt.entry); got != tt.want {
				t.Fatalf("Install(v%d) = %v, want %v", tt.entry.Version, got, tt.want)
			}
			e := wantGet(t, c, "k", tt.result, tt.version)
			if tt.want && !e.ExpiresAt.Equal(tt.entry.ExpiresAt) {
				t.Errorf("ExpiresAt = %v, want the installed %v", e.ExpiresAt, tt.entry.ExpiresAt)
			}
		})
	}
}

func TestInstallNotFound(t *testing.T) {
	tests := []struct {
		name    string
		before  state
		floor   uint64
		want    bool
		result  Result
		version uint64
		refuse  uint64 // highest version Install refuses afterwards (0: none)
	}{
		{"nothing cached", state{}, 0, true, NegativeHit, 0, 0},
		{"nothing cached, floor", state{}, 4, true, NegativeHit, 0, 4},
		{"fresh record above floor 0", state{version: 3}, 0, false, Hit, 3, 0},
		{"fresh record above floor", state{version: 3}, 2, false, Hit, 3, 0},
		{"fresh record at floor", state{version: 3}, 3, true, NegativeHit, 0, 3},
		{"fresh record below floor", state{version: 3}, 7, true, NegativeHit, 0, 7},
		{"record past TTL", state{version: 3, age: ttl}, 0, true, NegativeHit, 0, 0},
		{"marker with higher floor", state{negative: true, floor: 5}, 2, true, NegativeHit, 0, 5},
		{"marker with lower floor", state{negative: true, floor: 2}, 5, true, NegativeHit, 0, 5},
		{"marker past NegativeTTL", state{negative: true, floor: 5, age: negTTL}, 2, true, NegativeHit, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL})
			tt.before.setup(t, c, clk, "k")
			if got := c.InstallNotFound("k", tt.floor); got != tt.want {
				t.Fatalf("InstallNotFound(%d) = %v, want %v", tt.floor, got, tt.want)
			}
			wantGet(t, c, "k", tt.result, tt.version)
			if tt.result != NegativeHit {
				return
			}
			if tt.refuse > 0 && c.Install("k", rec(tt.refuse)) {
				t.Fatalf("Install(v%d) over the marker = true, want false", tt.refuse)
			}
			mustInstall(t, c, "k", rec(tt.refuse+1))
			wantGet(t, c, "k", Hit, tt.refuse+1)
		})
	}
}

func TestRemoveIfOlder(t *testing.T) {
	tests := []struct {
		name    string
		before  state
		version uint64
		want    bool
		result  Result
	}{
		{"nothing cached", state{}, 5, false, Miss},
		{"older record", state{version: 3}, 4, true, Miss},
		{"same version", state{version: 3}, 3, false, Hit},
		{"newer record", state{version: 3}, 2, false, Hit},
		{"marker with lower floor", state{negative: true, floor: 2}, 3, true, Miss},
		{"marker with same floor", state{negative: true, floor: 2}, 2, false, NegativeHit},
		{"record past TTL", state{version: 1, age: ttl}, 5, false, Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL})
			tt.before.setup(t, c, clk, "k")
			if got := c.RemoveIfOlder("k", tt.version); got != tt.want {
				t.Fatalf("RemoveIfOlder(%d) = %v, want %v", tt.version, got, tt.want)
			}
			wantGet(t, c, "k", tt.result, tt.before.version)
			if tt.result == Miss && c.Len() != 0 {
				t.Errorf("Len = %d after the entry went, want 0", c.Len())
			}
		})
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name   string
		before state
		want   bool
	}{
		{"nothing cached", state{}, false},
		{"record", state{version: 3}, true},
		{"marker", state{negative: true, floor: 3}, true},
		{"record past TTL", state{version: 3, age: ttl}, false},
		{"marker past NegativeTTL", state{negative: true, age: negTTL}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL})
			tt.before.setup(t, c, clk, "k")
			if got := c.Remove("k"); got != tt.want {
				t.Fatalf("Remove = %v, want %v", got, tt.want)
			}
			wantGet(t, c, "k", Miss, 0)
			if c.Len() != 0 {
				t.Errorf("Len = %d, want 0", c.Len())
			}
			if c.Remove("k") {
				t.Error("second Remove = true, want false")
			}
			// A removed marker no longer refuses installs.
			mustInstall(t, c, "k", rec(1))
		})
	}
}

func TestPurge(t *testing.T) {
	c, _ := newTestCache(t, Options{Capacity: 100, Shards: 4})
	for i := range 50 {
		mustInstall(t, c, key(i), rec(uint64(i+1)))
	}
	c.InstallNotFound("absent", 9)
	wantGet(t, c, key(3), Hit, 4)
	before := c.Stats()
	c.Purge()
	if n := c.Len(); n != 0 {
		t.Fatalf("Len after Purge = %d, want 0", n)
	}
	wantGet(t, c, key(3), Miss, 0)
	wantGet(t, c, "absent", Miss, 0)
	after := c.Stats()
	if after.Hits != before.Hits || after.Evictions != 0 || after.Entries != 0 {
		t.Errorf("Stats after Purge = %+v, want hits kept (%d), no evictions, no entries", after, before.Hits)
	}
	// The cache works after a Purge, and the purged marker is gone.
	mustInstall(t, c, "absent", rec(1))
	mustInstall(t, c, key(3), rec(1))
	wantGet(t, c, key(3), Hit, 1)
}
