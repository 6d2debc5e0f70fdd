package tier_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// TestLoadsAreBounded: with MaxConcurrentLoads remote reads in flight, a
// miss for yet another key fails fast with ErrUnavailable, counted,
// without a remote request; a miss that joins a read in flight still
// waits for it.
func TestLoadsAreBounded(t *testing.T) {
	f := newFixture()
	g := newGated(f.remote)
	s := f.store(t, g, tier.Options{MaxConcurrentLoads: 2})
	done := make(chan error, 3)
	for _, k := range []string{"a", "b", "a"} {
		go func() {
			_, _, err := s.Get(f.ctx, k)
			done <- err
		}()
	}
	g.waitEntered(t, 2)
	_, _, err := s.Get(f.ctx, "c")
	if !errors.Is(err, tier.ErrUnavailable) {
		t.Fatalf("Get past MaxConcurrentLoads: err = %v; want ErrUnavailable", err)
	}
	if n := g.gets.Load(); n != 2 {
		t.Fatalf("%d remote reads; want 2 (the refused one must not be sent)", n)
	}
	if st := s.Stats(); st.LoadsRejected != 1 {
		t.Fatalf("LoadsRejected = %d; want 1", st.LoadsRejected)
	}
	g.open()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("Get within the bound: %v", err)
		}
	}
	// Slots are given back: "c" loads now.
	if _, _, err := s.Get(f.ctx, "c"); err != nil {
		t.Fatalf("Get after the reads finished: %v", err)
	}
}

// countingFailures fails every Get while fail is set, and counts the Gets
// that reach it.
type countingFailures struct {
	remote.Store
	fail atomic.Bool
	gets atomic.Int64
}

func (r *countingFailures) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	r.gets.Add(1)
	if r.fail.Load() {
		return remote.Record{}, false, fmt.Errorf("%w: injected", remote.ErrUnavailable)
	}
	return r.Store.Get(ctx, key)
}

// TestBreakerFailsFastAndServesStale: after BreakerFailures failed reads
// in a row, misses are not sent to the remote: they fail fast, or get the
// stale copy when StaleIfError allows one. After BreakerOpenFor one probe
// goes through and its success closes the breaker.
func TestBreakerFailsFastAndServesStale(t *testing.T) {
	f := newFixture()
	r := &countingFailures{Store: f.remote}
	s := f.store(t, r, tier.Options{
		LocalTTL: time.Second, StaleIfError: time.Minute,
		BreakerFailures: 3, BreakerOpenFor: 50 * time.Millisecond,
	})
	rec, err := s.Create(f.ctx, f.record(t, "cached"))
	if err != nil {
		t.Fatal(err)
	}
	r.fail.Store(true)
	for i := range 3 {
		if _, _, err := s.Get(f.ctx, fmt.Sprintf("absent-%d", i)); !errors.Is(err, tier.ErrUnavailable) {
			t.Fatalf("Get %d with the remote down: err = %v; want ErrUnavailable", i, err)
		}
	}
	if !s.Stats().BreakerOpen {
		t.Fatal("breaker closed after 3 failed reads in a row; want open")
	}
	sent := r.gets.Load()
	if _, _, err := s.Get(f.ctx, "absent-x"); !errors.Is(err, tier.ErrUnavailable) {
		t.Fatalf("Get with the breaker open: err = %v; want ErrUnavailable", err)
	}
	f.clock.Advance(2 * time.Second) // past LocalTTL, within StaleIfError
	got, found, err := s.Get(f.ctx, rec.Key)
	if err != nil || !found || string(got.Data) != "cached" {
		t.Fatalf("Get of a stale key with the breaker open = %+v, %v, %v; want the stale copy", got, found, err)
	}
	if n := r.gets.Load() - sent; n != 0 {
		t.Fatalf("%d remote reads sent with the breaker open; want 0", n)
	}
	st := s.Stats()
	if st.BreakerRejected != 2 || st.StaleServed != 1 {
		t.Fatalf("BreakerRejected %d, StaleServed %d; want 2 and 1", st.BreakerRejected, st.StaleServed)
	}

	// The remote recovers; once BreakerOpenFor has passed (real time, the
	// breaker's own clock), one probe closes the breaker.
	r.fail.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := s.Get(f.ctx, "absent-y")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker still refusing reads 10s after the remote recovered: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // waiting out BreakerOpenFor, not synchronising
	}
	if s.Stats().BreakerOpen {
		t.Fatal("breaker open after a successful probe")
	}
}

// TestStaleBeforeCallerDeadline: with StaleIfError on, a caller whose
// deadline is near gets the stale copy instead of waiting for a remote
// that does not answer, and long before LoadTimeout.
func TestStaleBeforeCallerDeadline(t *testing.T) {
	f := newFixture()
	g := newGated(f.remote)
	s := f.store(t, g, tier.Options{LocalTTL: time.Second, StaleIfError: time.Minute, LoadTimeout: time.Minute})
	rec, err := s.Create(f.ctx, f.record(t, "cached"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.open()
	f.clock.Advance(2 * time.Second)
	ctx, cancel := context.WithTimeout(f.ctx, 200*time.Millisecond)
	defer cancel()
	got, found, err := s.Get(ctx, rec.Key)
	if err != nil || !found || string(got.Data) != "cached" {
		t.Fatalf("Get near its deadline = %+v, %v, %v; want the stale copy", got, found, err)
	}
	if ctx.Err() != nil {
		t.Fatal("the stale copy came after the caller's deadline; want before")
	}
	if st := s.Stats(); st.StaleServed != 1 {
		t.Fatalf("StaleServed = %d; want 1", st.StaleServed)
	}
	// Without a stale copy the caller gets its own deadline.
	ctx2, cancel2 := context.WithTimeout(f.ctx, 50*time.Millisecond)
	defer cancel2()
	if _, _, err := s.Get(ctx2, "absent"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get without a stale copy: err = %v; want DeadlineExceeded", err)
	}
}

// TestLoadTimeoutIsUnavailable: a shared load cut off by LoadTimeout is
// ErrUnavailable for a caller whose own context is live, never that
// caller's context.DeadlineExceeded.
func TestLoadTimeoutIsUnavailable(t *testing.T) {
	f := newFixture()
	g := newGated(f.remote) // never opened: every read runs into LoadTimeout
	s := f.store(t, g, tier.Options{LoadTimeout: 20 * time.Millisecond})
	_, _, err := s.Get(f.ctx, "slow")
	if !errors.Is(err, tier.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past LoadTimeout: err = %v; want ErrUnavailable, not DeadlineExceeded", err)
	}
}

// TestArgumentsCheckedBeforeAnything: bad keys and expiries are ErrInvalid
// and cost no remote request, cached or not.
func TestArgumentsCheckedBeforeAnything(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{TouchInterval: time.Hour})
	rec, err := s.Create(f.ctx, f.record(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	before := f.remote.Requests()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Get empty key", func() error { _, _, err := s.Get(f.ctx, ""); return err }},
		{"Get invalid UTF-8", func() error { _, _, err := s.Get(f.ctx, "user\xff"); return err }},
		{"Get key too long", func() error { _, _, err := s.Get(f.ctx, string(make([]byte, 4096))); return err }},
		{"Touch cached key, zero expiry", func() error { _, err := s.Touch(f.ctx, rec.Key, time.Time{}); return err }},
		{"Touch cached key, past expiry", func() error { _, err := s.Touch(f.ctx, rec.Key, f.clock.Now().Add(-time.Second)); return err }},
		{"Touch invalid UTF-8", func() error { _, err := s.Touch(f.ctx, "user\xfe", rec.ExpiresAt); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tier.ErrInvalid) {
				t.Fatalf("err = %v; want ErrInvalid", err)
			}
		})
	}
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("%d remote requests for invalid arguments; want 0", n)
	}
}
