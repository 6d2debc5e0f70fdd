// Package remotetest is the conformance suite for remote.Store
// implementations. Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		remotetest.Run(t, remotetest.Harness{Name: "memory", New: ...})
//	}
//
// The suite checks the contract documented on remote.Store: version rules,
// expiry filtering with an injected clock, concurrent writers, size limits,
// key validation, writes under an ended context, corrupt items and the
// settling of writes whose response was lost; and, for stores with owners,
// the contract documented on remote.Owners.
package remotetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// Target is one store under test and the hooks the suite needs to reach
// behind its interface.
type Target struct {
	// Store is the implementation under test, empty, using the clock
	// handed to Harness.New.
	Store remote.Store
	// Corrupt stores an item under key that does not decode (a missing or
	// mistyped attribute), bypassing Store.
	Corrupt func(t testing.TB, key string)
	// LoseNextResponse arranges that the next write is applied but its
	// first response is lost, as a timeout would lose it.
	LoseNextResponse func()
	// Requests returns how many requests reached the backend so far.
	Requests func() int64
	// Owners reports that Store implements remote.Owners with owners on;
	// the owner cases (owners.go) run only then. When it is false and
	// Store implements remote.Owners all the same, the suite checks that
	// owners are refused.
	Owners bool
	// CreateHook, when set, makes every owned Create of Store call h after
	// it read the owner's generation (stage "read") and after it wrote
	// the record ("written"). The cases that race a Revoke against a
	// Create need it and skip without it.
	CreateHook func(h func(stage string))
}

// Harness builds targets for the suite.
type Harness struct {
	// Name appears in the subtest names, so the output shows which
	// implementation ran.
	Name string
	// New returns a fresh target whose store reads time from now.
	New func(t testing.TB, now func() time.Time) Target
}

// Clock is a manual clock for expiry tests, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is what each case of the suite gets.
type env struct {
	Target
	clock *Clock
	ctx   context.Context
}

// Key returns a fresh storage key shaped like the ones tiersession derives
// (base64url of 32 random bytes).
func Key(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (e *env) record(t testing.TB, data string) remote.Record {
	return remote.Record{Key: Key(t), Data: []byte(data), ExpiresAt: e.clock.Now().Add(time.Hour)}
}

func (e *env) create(t testing.TB, data string) remote.Record {
	t.Helper()
	rec, err := e.Store.Create(e.ctx, e.record(t, data))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return rec
}

func (e *env) mustGet(t testing.TB, key string) remote.Record {
	t.Helper()
	rec, found, err := e.Store.Get(e.ctx, key)
	if err != nil || !found {
		t.Fatalf("Get = found %v, err %v; want the record", found, err)
	}
	return rec
}

func (e *env) mustMiss(t testing.TB, key string) {
	t.Helper()
	rec, found, err := e.Store.Get(e.ctx, key)
	if err != nil || found {
		t.Fatalf("Get = %+v, found %v, err %v; want found=false, nil error", rec, found, err)
	}
}

// Run runs the whole suite against h, one subtest per case.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"CreateGet", testCreateGet},
		{"CreateExisting", testCreateExisting},
		{"PutVersions", testPutVersions},
		{"PutErrors", testPutErrors},
		{"Delete", testDelete},
		{"Touch", testTouch},
		{"Expiry", testExpiry},
		{"ConcurrentWriters", testConcurrentWriters},
		{"TooLarge", testTooLarge},
		{"Invalid", testInvalid},
		{"InvalidKey", testInvalidKey},
		{"ValidKey", testValidKey},
		{"KeyAliasing", testKeyAliasing},
		{"ContextDone", testContextDone},
		{"Corrupt", testCorrupt},
		{"LostResponse", testLostResponse},
		{"DataIsolation", testDataIsolation},
		{"GetConsistent", testGetConsistent},
		{"Linearizable", testLinearizable},
		{"OwnersOff", testOwnersOff},
		{"OwnerFields", testOwnerFields},
		{"OwnerList", testOwnerList},
		{"OwnerRevoke", testOwnerRevoke},
		{"OwnerRevokeLostResponse", testOwnerRevokeLostResponse},
		{"OwnerCreateRace", testOwnerCreateRace},
		{"OwnerInvalid", testOwnerInvalid},
		{"OwnerContextDone", testOwnerContextDone},
		{"OwnerSize", testOwnerSize},
		{"OwnerLostResponse", testOwnerLostResponse},
	}
	t.Run(h.Name, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				clock := NewClock(time.Now().Truncate(time.Second))
				e := &env{Target: h.New(t, clock.Now), clock: clock, ctx: context.Background()}
				c.fn(t, e)
			})
		}
	})
}
