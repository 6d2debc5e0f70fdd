package local

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// Cache a test creates must be closed, which proves Close stops the clock
// goroutine. The one exception is golang-lru's expirable.LRU, compared in
// the benchmarks: v2.0.7 starts a cleanup goroutine per cache that nothing
// can stop, one of the reasons this package does not build on it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, ignoreExpirable)
}

// ignoreExpirable ignores the goroutine expirable.NewLRU leaks.
var ignoreExpirable = goleak.IgnoreAnyFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1")

// t0 is the fake clock's starting time.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a clock that moves only when a test advances it.
type fakeClock struct{ nanos atomic.Int64 }

// newFakeClock returns a fake clock reading t0.
func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.nanos.Store(t0.UnixNano())
	return c
}

// Now returns the fake time; it is what tests put in Options.Now.
func (c *fakeClock) Now() time.Time { return time.Unix(0, c.nanos.Load()).UTC() }

// Advance moves the fake time forward by d.
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// newTestCache returns a cache on a fake clock (unless o.Now is set),
// closed when the test ends.
func newTestCache(tb testing.TB, o Options) (*Cache, *fakeClock) {
	tb.Helper()
	clk := newFakeClock()
	if o.Now == nil {
		o.Now = clk.Now
	}
	c, err := New(o)
	if err != nil {
		tb.Fatalf("New(%+v): %v", o, err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return c, clk
}

// rec returns an entry of version v, expiring an hour after t0, whose
// data names its version.
func rec(v uint64) Entry {
	return Entry{Data: []byte{byte(v)}, Version: v, ExpiresAt: t0.Add(time.Hour)}
}

// mustInstall installs e under key and fails the test if it was refused.
func mustInstall(tb testing.TB, c *Cache, key string, e Entry) {
	tb.Helper()
	if !c.Install(key, e) {
		tb.Fatalf("Install(%q, v%d) = false, want true", key, e.Version)
	}
}

// wantGet fails the test unless Get(key) returns r and, for a hit, version v.
func wantGet(tb testing.TB, c *Cache, key string, r Result, v uint64) Entry {
	tb.Helper()
	e, got := c.Get(key)
	if got != r {
		tb.Fatalf("Get(%q) = %v, want %v", key, got, r)
	}
	if r == Hit && e.Version != v {
		tb.Fatalf("Get(%q) = v%d, want v%d", key, e.Version, v)
	}
	if r != Hit && (e.Version != 0 || e.Data != nil) {
		tb.Fatalf("Get(%q) = %v with entry %+v, want a zero entry", key, got, e)
	}
	return e
}
