package tier

import (
	"hash/maphash"
	"sync/atomic"
)

// changeSlots is how many counters changes spreads keys over. A write to
// one key also marks the others that share its slot; the cost of such a
// false mark is one load that does not install its result.
const changeSlots = 256

// changes tells a shared load whether its key changed on this node while
// the load was reading the remote: a write finished, a conflict or an
// unknown outcome dropped the local copy, or the bus said a newer version
// exists. Such a load still answers the callers that were waiting for it
// (they asked before the change), but does not install what it read, which
// may be the very version the change made obsolete — even when the local
// copy the change produced has been evicted since. Without this, an event
// arriving while a read of the old version is in flight would leave the
// old version cached for a whole LocalTTL, bus or no bus.
type changes struct {
	seed  maphash.Seed
	slots [changeSlots]atomic.Uint64
	all   atomic.Uint64 // bumped by purges: every key changed
}

// stamp is the state of the counters that concern one key.
type stamp struct{ slot, all uint64 }

func newChanges() *changes { return &changes{seed: maphash.MakeSeed()} }

func (c *changes) slot(key string) *atomic.Uint64 {
	return &c.slots[maphash.String(c.seed, key)%changeSlots]
}

// stamp reads the counters for key.
func (c *changes) stamp(key string) stamp {
	return stamp{c.slot(key).Load(), c.all.Load()}
}

// since reports whether key may have changed since st was taken.
func (c *changes) since(key string, st stamp) bool {
	return c.stamp(key) != st
}

// mark records a change of key.
func (c *changes) mark(key string) { c.slot(key).Add(1) }

// markAll records a change of every key.
func (c *changes) markAll() { c.all.Add(1) }

// changed records that key changed on this node: loads in flight will not
// install what they read, and later misses start a new load instead of
// joining one that began before the change.
func (s *Store) changed(key string) {
	s.changes.mark(key)
	s.flights.Forget(key)
}
