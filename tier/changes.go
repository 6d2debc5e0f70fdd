package tier

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/tiersession/tiersession/local"
)

// changeSlots is how many slots changes spreads keys over. A change of one
// key also marks the others that share its slot; the cost of such a false
// mark is one load that does not install its result.
const changeSlots = 256

// changes orders what the Store does to its local tier, key by key, so
// that no answer the Store gives is followed by an older one.
//
// Every remote call whose answer may go into the local tier — a shared
// load, the reload after a conflict, a write — takes a stamp of its key's
// counter before it is sent, and settles after it returns (settle): under
// the key's slot lock, it installs its answer only if the counter still
// equals the stamp, and otherwise drops the local copies older than its
// answer; either way it bumps the counter. Events, failed writes and
// purges also mutate the local tier and bump the counter under the same
// lock (change, changeAll).
//
// Why this is enough, for a remote whose reads see every acknowledged
// write: once a call has settled with version V (and only then does the
// Store return V to anyone, or acknowledge the write of V), the local tier
// holds no copy older than V — V superseded it or it was dropped — and no
// older copy can come back: a later install passes the check only with a
// stamp taken after that settle, so its remote call started after V was
// in the remote and read V or newer. A conflict or a lost response drops
// the local copy under the lock, with the same effect. "Install only if
// newer" alone is not enough: a conflict, an event or an eviction removes
// the newer copy it would have compared against, and a slow read of an
// older version would then fill the empty slot for a whole LocalTTL.
//
// Stamps are read without the lock (atomics); only settling needs it.
type changes struct {
	seed  maphash.Seed
	slots [changeSlots]changeSlot
	all   atomic.Uint64 // bumped by changeAll, under every slot lock
}

// changeSlot is one counter and the lock that orders its changes and
// installs. The padding keeps two slots off one cache line.
type changeSlot struct {
	mu sync.Mutex
	n  atomic.Uint64 // written under mu, read by stamp without it
	_  [48]byte
}

// stamp is the state of the counters that concern one key.
type stamp struct{ slot, all uint64 }

func newChanges() *changes { return &changes{seed: maphash.MakeSeed()} }

func (c *changes) slot(key string) *changeSlot {
	return &c.slots[maphash.String(c.seed, key)%changeSlots]
}

// stamp reads the counters for key. Take it before the remote call whose
// result may be installed.
func (c *changes) stamp(key string) stamp {
	return stamp{c.slot(key).n.Load(), c.all.Load()}
}

// change runs apply, which mutates the local tier for key, and records the
// change, atomically with respect to settle. Loads in flight will not
// install what they read, and later misses start a new load instead of
// joining one that began before the change.
func (s *Store) change(key string, apply func()) {
	sl := s.changes.slot(key)
	sl.mu.Lock()
	apply()
	sl.n.Add(1)
	sl.mu.Unlock()
	s.flights.Forget(key)
}

// changeAll runs apply, which mutates the whole local tier (a purge), and
// records a change of every key, atomically with respect to settle.
// It takes every slot lock, in order; it is meant for rare events.
func (s *Store) changeAll(apply func()) {
	c := s.changes
	for i := range c.slots {
		c.slots[i].mu.Lock()
	}
	apply()
	c.all.Add(1)
	for i := range c.slots {
		c.slots[i].mu.Unlock()
	}
}

// settle ends a remote call for key whose stamp, taken before the call
// was sent, is st. If nothing changed key since, install puts the call's
// answer into the local tier (only if newer, which local.Cache checks);
// otherwise drop removes the local copies older than that answer. Either
// way the settle counts as a change of key: calls still in flight that
// started before it will not install their older answers.
func (s *Store) settle(key string, st stamp, install, drop func()) {
	sl := s.changes.slot(key)
	sl.mu.Lock()
	if sl.n.Load() == st.slot && s.changes.all.Load() == st.all {
		install()
	} else {
		drop()
	}
	sl.n.Add(1)
	sl.mu.Unlock()
	s.flights.Forget(key)
}

// settleRead settles a remote read of key that found rec, or nothing. An
// owned record is installed only if the owner check lets it in, in the
// same step (see owners.go: gen is the owner's generation the caller
// compared it with); revoked reports that it did not.
func (s *Store) settleRead(key string, st stamp, rec Record, found bool, gen uint64) (revoked bool) {
	if !found {
		// A cached record may be older than the absence just read (or
		// newer, after a re-create); dropping it is safe either way. The
		// marker never hides a live entry installed meanwhile (see
		// local.InstallNotFound).
		s.settle(key, st,
			func() { s.local.InstallNotFound(key, 0) },
			func() { s.local.Remove(key) })
		return false
	}
	s.settle(key, st,
		func() {
			if revoked = !s.owners.admit(rec, gen); !revoked {
				s.local.InstallLoaded(key, local.Entry{Data: rec.Data, Version: rec.Version, ExpiresAt: rec.ExpiresAt})
			}
		},
		func() { s.local.RemoveIfOlder(key, rec.Version) })
	return revoked
}
