package local

import (
	"testing"
	"time"
)

func TestStale(t *testing.T) {
	const grace = 10 * time.Second
	tests := []struct {
		name    string
		grace   time.Duration
		install func(c *Cache)
		age     time.Duration
		want    bool
	}{
		{"fresh record", grace, func(c *Cache) { c.Install("k", rec(1)) }, 0, true},
		{"past TTL, within grace", grace, func(c *Cache) { c.Install("k", rec(1)) }, ttl + grace - time.Nanosecond, true},
		{"past TTL and grace", grace, func(c *Cache) { c.Install("k", rec(1)) }, ttl + grace, false},
		{"past TTL, no grace", 0, func(c *Cache) { c.Install("k", rec(1)) }, ttl, false},
		{"record expired", grace, func(c *Cache) { c.Install("k", Entry{Version: 1, ExpiresAt: t0.Add(2 * time.Second)}) }, 2 * time.Second, false},
		{"not-found marker", grace, func(c *Cache) { c.InstallNotFound("k", 0) }, 0, false},
		{"absent", grace, func(*Cache) {}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, Options{TTL: ttl, NegativeTTL: negTTL, StaleGrace: tt.grace})
			tt.install(c)
			clk.Advance(tt.age)
			if e, res := c.Get("k"); res == Hit && tt.age >= ttl {
				t.Fatalf("Get returned %v for an entry past its TTL: %+v", res, e)
			}
			before := c.Stats()
			e, ok := c.Stale("k")
			if ok != tt.want {
				t.Fatalf("Stale = %+v, %v; want found=%v", e, ok, tt.want)
			}
			if ok && e.Version != 1 {
				t.Fatalf("Stale returned version %d; want 1", e.Version)
			}
			if after := c.Stats(); after != before {
				t.Fatalf("Stale changed Stats from %+v to %+v", before, after)
			}
		})
	}
}

func TestStaleGraceNegative(t *testing.T) {
	if _, err := New(Options{StaleGrace: -time.Second}); err == nil {
		t.Fatal("New accepted a negative StaleGrace")
	}
}
