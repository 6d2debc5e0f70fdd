package local

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestStats(t *testing.T) {
	type step struct {
		name string
		do   func(c *Cache, clk *fakeClock)
		want Stats
	}
	steps := []step{
		{"new cache", func(*Cache, *fakeClock) {}, Stats{}},
		{"miss", func(c *Cache, _ *fakeClock) { c.Get("a") }, Stats{Misses: 1}},
		{"marker", func(c *Cache, _ *fakeClock) { c.InstallNotFound("b", 0) }, Stats{Misses: 1, Entries: 1}},
		{"install", func(c *Cache, _ *fakeClock) { c.Install("a", rec(1)) }, Stats{Misses: 1, Entries: 2}},
		{"hit", func(c *Cache, _ *fakeClock) { c.Get("a"); c.Get("a") }, Stats{Hits: 2, Misses: 1, Entries: 2}},
		{"negative hit", func(c *Cache, _ *fakeClock) { c.Get("b") }, Stats{Hits: 2, Misses: 1, NegativeHits: 1, Entries: 2}},
		// Both tails were last used at t0: the marker goes first.
		{"eviction", func(c *Cache, _ *fakeClock) { c.Install("c", rec(1)) }, Stats{Hits: 2, Misses: 1, NegativeHits: 1, Evictions: 1, Entries: 2}},
		{"evicted key misses", func(c *Cache, _ *fakeClock) { c.Get("b") }, Stats{Hits: 2, Misses: 2, NegativeHits: 1, Evictions: 1, Entries: 2}},
		{"expiry found by get", func(c *Cache, clk *fakeClock) { clk.Advance(ttl); c.Get("a") }, Stats{Hits: 2, Misses: 3, NegativeHits: 1, Evictions: 1, Expirations: 1, Entries: 1}},
		{"expiry found by remove", func(c *Cache, _ *fakeClock) { c.Remove("c") }, Stats{Hits: 2, Misses: 3, NegativeHits: 1, Evictions: 1, Expirations: 2}},
		{"remove is not an eviction", func(c *Cache, _ *fakeClock) { c.Install("d", rec(9)); c.Remove("d") }, Stats{Hits: 2, Misses: 3, NegativeHits: 1, Evictions: 1, Expirations: 2}},
		{"expired entry replaced", func(c *Cache, clk *fakeClock) { c.Install("e", rec(1)); clk.Advance(ttl); c.Install("e", rec(1)) }, Stats{Hits: 2, Misses: 3, NegativeHits: 1, Evictions: 1, Expirations: 3, Entries: 1}},
		{"purge keeps counters", func(c *Cache, _ *fakeClock) { c.Install("d", rec(9)); c.Purge() }, Stats{Hits: 2, Misses: 3, NegativeHits: 1, Evictions: 1, Expirations: 3}},
	}
	c, clk := newTestCache(t, Options{Capacity: 2, Shards: 1, TTL: ttl, NegativeTTL: negTTL})
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(c, clk)
			if got := c.Stats(); got != s.want {
				t.Fatalf("Stats = %+v, want %+v", got, s.want)
			}
		})
	}
}

// TestStatsAcrossGoroutines checks that hits counted on different stripes
// all reach the sum.
func TestStatsAcrossGoroutines(t *testing.T) {
	c, _ := newTestCache(t, Options{})
	mustInstall(t, c, "k", rec(1))
	const workers, gets = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range gets {
				c.Get("k")
				c.Get("absent")
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if st.Hits != workers*gets || st.Misses != workers*gets {
		t.Fatalf("Stats = %+v, want %d hits and %d misses", st, workers*gets, workers*gets)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Miss: "miss", Hit: "hit", NegativeHit: "negative-hit", 7: "Result(7)"} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", uint8(r), got, want)
		}
	}
}

// TestCloseStopsClock proves that the default clock's goroutine exists
// while the cache is open and is gone once Close returns, and that Close
// may be called twice.
func TestCloseStopsClock(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if goleak.Find(baseline) == nil {
		t.Fatal("no clock goroutine while the cache is open")
	}
	for i := range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
		goleak.VerifyNone(t, baseline)
	}
	// With an injected clock there is no goroutine at all.
	c, err = New(Options{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, baseline)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPeek checks that Peek answers like Get but leaves no trace: no
// counters, no LRU move, no removal of what it finds expired.
func TestPeek(t *testing.T) {
	c, clk := newTestCache(t, Options{Capacity: 3, Shards: 1, TTL: ttl, NegativeTTL: 2 * time.Second})
	mustInstall(t, c, "a", rec(1))
	mustInstall(t, c, "b", rec(2))
	c.InstallNotFound("n", 0)
	clk.Advance(time.Second) // past the promotion interval: a Get would move "a"
	tests := []struct {
		key     string
		result  Result
		version uint64
	}{
		{"a", Hit, 1},
		{"b", Hit, 2},
		{"n", NegativeHit, 0},
		{"absent", Miss, 0},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			e, r := c.Peek(tt.key)
			if r != tt.result || e.Version != tt.version {
				t.Fatalf("Peek(%q) = v%d, %v; want v%d, %v", tt.key, e.Version, r, tt.version, tt.result)
			}
		})
	}
	clk.Advance(time.Second) // "n" is now expired
	if _, r := c.Peek("n"); r != Miss {
		t.Fatalf("Peek of an expired marker = %v, want miss", r)
	}
	if st := c.Stats(); st != (Stats{Entries: 3}) {
		t.Fatalf("Stats after Peeks = %+v, want only the 3 entries", st)
	}
	// "a" was not promoted, so it is still the oldest and goes first.
	c.Remove("n")
	mustInstall(t, c, "c", rec(1))
	mustInstall(t, c, "d", rec(1))
	wantGet(t, c, "a", Miss, 0)
	wantGet(t, c, "b", Hit, 2)
}
