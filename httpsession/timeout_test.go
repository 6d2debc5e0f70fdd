package httpsession_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/httpsession"
)

// TestTimeouts drives sessions with the injected clock: a request every
// `every` (0: none) for `for`, then one more request after `gap`.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		name       string
		opts       httpsession.Options
		every, run time.Duration // requests at this interval for this long
		gap        time.Duration // then this long without requests
		alive      bool
	}{
		{"idle just under the timeout", httpsession.Options{IdleTimeout: 10 * time.Minute}, 0, 0, 10*time.Minute - time.Second, true},
		{"idle at the timeout", httpsession.Options{IdleTimeout: 10 * time.Minute}, 0, 0, 10 * time.Minute, false},
		{"active session outlives the idle timeout", httpsession.Options{IdleTimeout: 10 * time.Minute}, 3 * time.Minute, time.Hour, 9 * time.Minute, true},
		{"active, then idle", httpsession.Options{IdleTimeout: 10 * time.Minute}, 3 * time.Minute, time.Hour, 10 * time.Minute, false},
		{"lifetime ends an active session", httpsession.Options{IdleTimeout: 10 * time.Minute, Lifetime: time.Hour}, 5 * time.Minute, 55 * time.Minute, 5 * time.Minute, false},
		{"active just under the lifetime", httpsession.Options{IdleTimeout: 10 * time.Minute, Lifetime: time.Hour}, 5 * time.Minute, 55 * time.Minute, 5*time.Minute - time.Second, true},
		// IdleTimeout below tier's TouchInterval (1 minute): Touch alone
		// would let the session lapse; the Manager extends with a write.
		{"idle timeout finer than the touch throttle", httpsession.Options{IdleTimeout: 30 * time.Second}, 10 * time.Second, 3 * time.Minute, 29 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts, nil)
			tok := f.login(t)
			for elapsed := time.Duration(0); tt.every > 0 && elapsed+tt.every <= tt.run; elapsed += tt.every {
				f.clock.Advance(tt.every)
				if got := f.body(t, "/get?k=user", tok); got != "alice" {
					t.Fatalf("at %v of activity the session is gone", elapsed+tt.every)
				}
			}
			f.clock.Advance(tt.gap)
			got := f.body(t, "/get?k=user", tok)
			if alive := got == "alice"; alive != tt.alive {
				t.Fatalf("after the gap: %q; want alive=%v", got, tt.alive)
			}
		})
	}
}

// TestTouchFallbackCounted: the write-based extension of the last case
// above is counted, and with the defaults it never happens.
func TestTouchFallbackCounted(t *testing.T) {
	for _, tt := range []struct {
		idle time.Duration
		want bool
	}{{30 * time.Second, true}, {0, false}} {
		f := newFixture(t, httpsession.Options{IdleTimeout: tt.idle}, nil)
		tok := f.login(t)
		for range 12 {
			f.clock.Advance(10 * time.Second)
			f.body(t, "/get?k=user", tok)
		}
		if got := f.mgr.Stats().Extended > 0; got != tt.want {
			t.Fatalf("IdleTimeout %v: Stats.Extended = %d", tt.idle, f.mgr.Stats().Extended)
		}
	}
}

// TestLifetimeCheckedOnLoad: a record the store still serves — written
// under a longer Lifetime, or not yet swept — is not served past this
// Manager's Lifetime.
func TestLifetimeCheckedOnLoad(t *testing.T) {
	long := newFixture(t, httpsession.Options{IdleTimeout: 48 * time.Hour, Lifetime: 48 * time.Hour}, nil)
	tok := long.login(t)
	short, err := httpsession.New(long.store, httpsession.Options{IdleTimeout: 48 * time.Hour, Lifetime: 24 * time.Hour, Now: long.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	long.h = short.Handle(app(short))
	long.clock.Advance(24*time.Hour - time.Second)
	if got := long.body(t, "/get?k=user", tok); got != "alice" {
		t.Fatalf("before the Lifetime: %q", got)
	}
	long.clock.Advance(time.Second)
	long.stored(t, tok) // the store still has it...
	if got := long.body(t, "/get?k=user", tok); got != "<none>" {
		t.Fatalf("at the Lifetime: %q; want a fresh session", got) // ...but it is not served
	}
	if short.Stats().Expired != 1 {
		t.Fatalf("Stats.Expired = %d; want 1", short.Stats().Expired)
	}
}

// TestTouchFailureDoesNotFailTheResponse: an idle extension that fails
// is logged and counted; the response stands.
func TestTouchFailureDoesNotFailTheResponse(t *testing.T) {
	var fs *faultyStore
	f := newFixture(t, httpsession.Options{}, func(s httpsession.Store) httpsession.Store { fs = &faultyStore{Store: s}; return fs })
	tok := f.login(t)
	fs.set(func(s *faultyStore) { s.touchErr = errors.New("dynamodb throttled") })
	f.clock.Advance(5 * time.Minute)
	if got := f.body(t, "/get?k=user", tok); got != "alice" {
		t.Fatalf("got %q", got)
	}
	if f.mgr.Stats().TouchErrors != 1 || !strings.Contains(f.logs.String(), "dynamodb throttled") {
		t.Fatalf("TouchErrors = %d, logs:\n%s", f.mgr.Stats().TouchErrors, f.logs)
	}
}
