package tier

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestOwnerStatePrunes checks rule 3's bookkeeping: held keys are
// forgotten once past their time, never before, and the maps stay
// bounded by what was admitted within that time.
func TestOwnerStatePrunes(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_000_000, 0)}
	o := newOwnerState(nil, Options{LocalTTL: 5 * time.Second, StaleIfError: 2 * time.Second, OwnerTTL: 5 * time.Second, Now: clock.Now})
	if o.hold != 8*time.Second {
		t.Fatalf("hold = %v; want LocalTTL + StaleIfError + 1s", o.hold)
	}
	admit := func(owner string, n int) {
		for i := range n {
			if !o.admit(Record{Key: owner + strconv.Itoa(i), Owner: owner}, 0) {
				t.Fatal("admit refused a live record")
			}
		}
	}
	admit("old", 3*minPruneAt)
	o.raise("old", 0, clock.Now().Add(o.ttl), 0)
	clock.advance(o.hold - time.Nanosecond)
	admit("new", 1) // nothing is due yet, whether or not it prunes
	if o.nheld != 3*minPruneAt+1 {
		t.Fatalf("%d keys held just before their time; want %d", o.nheld, 3*minPruneAt+1)
	}
	clock.advance(time.Nanosecond)
	admit("newer", 3*minPruneAt) // grows past pruneAt: the old keys go
	if got := o.nheld; got != 3*minPruneAt+1 {
		t.Fatalf("%d keys held after the old ones' time; want the %d admitted since", got, 3*minPruneAt+1)
	}
	if _, ok := o.held["old"]; ok {
		t.Fatal("an owner whose keys all expired is still listed")
	}
	if _, ok := o.gens["old"]; ok {
		t.Fatal("an untrusted generation with no held key was kept")
	}
	// Raising a generation takes exactly the keys created under a lower
	// one.
	o.admit(Record{Key: "k1", Owner: "x", Generation: 0}, 0)
	o.admit(Record{Key: "k2", Owner: "x", Generation: 1}, 0)
	if evict := o.raise("x", 1, time.Time{}, 0); len(evict) != 1 || evict[0] != "k1" {
		t.Fatalf("raise to 1 evicts %v; want [k1]", evict)
	}
	if o.admit(Record{Key: "k1", Owner: "x", Generation: 0}, 0) {
		t.Fatal("admit let in a record revoked by what the state knows")
	}
	// Knowledge from before a reset does not count.
	epoch := o.currentEpoch()
	o.reset()
	o.raise("y", 3, clock.Now().Add(time.Hour), epoch)
	if g, _ := o.floor("y"); g != 0 {
		t.Fatalf("a generation read before the reset was recorded: %d", g)
	}
}
