package local

import (
	"math"
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	tests := []struct {
		name     string
		install  func(c *Cache) bool
		result   Result        // what Get returns while fresh
		lifetime time.Duration // how long after t0 it stays fresh
	}{
		{
			name:     "cache TTL before ExpiresAt",
			install:  func(c *Cache) bool { return c.Install("k", rec(1)) }, // expires t0+1h
			result:   Hit,
			lifetime: ttl,
		},
		{
			name: "ExpiresAt before cache TTL",
			install: func(c *Cache) bool {
				return c.Install("k", Entry{Version: 1, ExpiresAt: t0.Add(2 * time.Second)})
			},
			result:   Hit,
			lifetime: 2 * time.Second,
		},
		{
			name: "ExpiresAt in the far future",
			install: func(c *Cache) bool {
				return c.Install("k", Entry{Version: 1, ExpiresAt: time.Unix(math.MaxInt64, 0)})
			},
			result:   Hit,
			lifetime: ttl,
		},
		{
			name:     "not-found marker",
			install:  func(c *Cache) bool { return c.InstallNotFound("k", 0) },
			result:   NegativeHit,
			lifetime: negTTL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL})
			if !tt.install(c) {
				t.Fatal("install refused")
			}
			clk.Advance(tt.lifetime - time.Nanosecond)
			wantGet(t, c, "k", tt.result, 1)
			clk.Advance(time.Nanosecond)
			wantGet(t, c, "k", Miss, 0)
			if n := c.Len(); n != 0 {
				t.Errorf("Len = %d after Get found the entry expired, want 0", n)
			}
			st := c.Stats()
			if st.Expirations != 1 || st.Misses != 1 {
				t.Errorf("Stats = %+v, want 1 expiration and 1 miss", st)
			}
		})
	}
}

func TestTouchExtendsUpToTTL(t *testing.T) {
	c, clk := newTestCache(t, Options{TTL: ttl})
	short := Entry{Version: 1, ExpiresAt: t0.Add(2 * time.Second)}
	mustInstall(t, c, "k", short)
	clk.Advance(time.Second)
	long := Entry{Version: 1, ExpiresAt: t0.Add(time.Hour)}
	mustInstall(t, c, "k", long)
	// Fresh for one TTL from the touch, not from the first install, and
	// not up to the new ExpiresAt.
	clk.Advance(ttl - time.Nanosecond)
	e := wantGet(t, c, "k", Hit, 1)
	if !e.ExpiresAt.Equal(long.ExpiresAt) {
		t.Fatalf("ExpiresAt = %v, want %v", e.ExpiresAt, long.ExpiresAt)
	}
	clk.Advance(time.Nanosecond)
	wantGet(t, c, "k", Miss, 0)
}

func TestExpiredTailReclaimedByInstall(t *testing.T) {
	c, clk := newTestCache(t, Options{Capacity: 10, Shards: 1, TTL: ttl})
	for i := range 3 {
		mustInstall(t, c, key(i), rec(1))
	}
	clk.Advance(ttl)
	mustInstall(t, c, "new", rec(1))
	// Two expired entries go per install, without any capacity pressure.
	if n := c.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 (one expired left, plus the new one)", n)
	}
	mustInstall(t, c, "newer", rec(1))
	if n := c.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 (the new ones)", n)
	}
	if st := c.Stats(); st.Expirations != 3 || st.Evictions != 0 {
		t.Fatalf("Stats = %+v, want 3 expirations and no evictions", st)
	}
}

// TestCoarseClock checks the default clock: it ticks without an injected
// Now, entries closer than one tick to their ExpiresAt are not served, and
// a closed cache falls back to the precise time.
func TestCoarseClock(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.slack != int64(ClockResolution) {
		t.Fatalf("slack = %d, want one ClockResolution", c.slack)
	}
	// Relative to the cache's own clock: the coarse clock lags the real
	// time by up to a tick, and by more when the process is starved of
	// CPU (the ticker is not scheduled). A deadline computed from
	// time.Now here once failed under load: New stored its first tick,
	// this goroutine and the ticker were both descheduled for over half a
	// tick, and time.Now()+tick/2 was then more than a tick past the
	// clock's reading.
	now := time.Unix(0, c.clock.read())
	if c.Install("soon", Entry{Version: 1, ExpiresAt: now.Add(ClockResolution / 2)}) {
		t.Error("Install of an entry expiring within one clock tick = true, want false")
	}
	mustInstall(t, c, "later", Entry{Version: 1, ExpiresAt: now.Add(time.Hour)})
	wantGet(t, c, "later", Hit, 1)

	before := time.Now().UnixNano()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.clock.done:
	default:
		t.Fatal("clock goroutine still running after Close")
	}
	got := c.clock.read()
	if after := time.Now().UnixNano(); got < before || got > after {
		t.Fatalf("clock after Close reads %d, want the precise time in [%d, %d]", got, before, after)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantGet(t, c, "later", Hit, 1)
}

func TestTimeConversions(t *testing.T) {
	tests := []struct {
		name string
		got  int64
		want int64
	}{
		{"zero time", unixNanos(time.Time{}), math.MinInt64},
		{"far future", unixNanos(time.Unix(math.MaxInt64/int64(time.Second)+1, 0)), math.MaxInt64},
		{"ordinary", unixNanos(t0), t0.UnixNano()},
		{"add", addNanos(10, 5), 15},
		{"add saturates", addNanos(math.MaxInt64-1, 5), math.MaxInt64},
		{"fresh capped by TTL", freshUntil(100, 10, 1000, 1), 110},
		{"fresh capped by ExpiresAt less slack", freshUntil(100, 10, 105, 1), 104},
		{"fresh of zero ExpiresAt", freshUntil(100, 10, math.MinInt64, 1), math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}
