package tier

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tiersession/tiersession/remote"
)

// How a Store keeps revoked sessions out of its local tier (see
// remote.Owners for the generations, owned.go for DestroyAll).
//
// A record of owner O created under generation g is revoked once O's
// generation is above g. The Store knows a generation for each owner it
// has met (gens): read from the remote (strongly consistent) and trusted
// for OwnerTTL, or learnt from a Revoked event, a DestroyAll of its own or
// an owned Create; knowledge only ever goes up, since generations do. And
// it knows, for each owner, which keys its local tier may hold and under
// which generation they were created (held).
//
// Three rules keep a revoked session from being served from the local
// tier:
//
//  1. Every owned record goes into the local tier through admit, under the
//     key's slot lock (inside settle): admit compares its generation with
//     the owner's, refuses it if revoked, and otherwise lists the key as
//     held, in one step under ownerState.mu.
//  2. Whoever raises an owner's generation (raise) takes, in the same step
//     under ownerState.mu, the held keys created under a lower one, and
//     then evicts them, each as a change of its key (so a load of it in
//     flight installs nothing either).
//  3. A key stays held for longer than its local entry can be served
//     (LocalTTL + StaleIfError, plus slack for the local tier's coarse
//     clock): pruning by time never forgets a key the local tier may
//     serve.
//
// So, ordered by ownerState.mu: an admit before a raise is evicted by it
// (it was held when the raise took the held keys; the eviction takes the
// slot lock, so it lands after the install); an admit after a raise is
// refused (it compares with the raised generation). A hit needs no check:
// every entry it can find passed rule 1 and was not taken by rule 2.
//
// What a node knows can lag: another node's DestroyAll reaches it through
// the bus. Until then it may serve the owner's sessions it holds, and
// admit a revoked one against a generation it read less than OwnerTTL
// ago: the bus delay while the bus is up, OwnerTTL + LocalTTL if the event
// is lost. A bus gap purges the local tier and forgets every generation,
// since Revoked events may have been among those missed.

// ownerState is a Store's knowledge of owners.
type ownerState struct {
	remote  remote.Owners // nil when the remote has no owners
	ttl     time.Duration // OwnerTTL: how long a generation read is trusted
	hold    time.Duration // how long a key stays held after its admit (rule 3)
	timeout time.Duration // bounds a generation read, as LoadTimeout a load
	now     func() time.Time

	mu      sync.Mutex
	gens    map[string]knownGen
	held    map[string]map[string]heldKey // owner → key → entry
	nheld   int                           // entries in held
	pruneAt int                           // prune when gens and held reach this size
	epoch   uint64                        // from 1, bumped by reset: reads from before do not count

	reads singleflight.Group // generation reads, one per owner at a time
	stats ownerCounters
}

// knownGen is what a Store knows of an owner's generation.
type knownGen struct {
	gen   uint64
	until time.Time // trusted until then; after, gen is only a floor
}

// heldKey is a key of an owner's that the local tier may hold.
type heldKey struct {
	gen   uint64    // the generation its record was created under
	until time.Time // held until then (rule 3)
}

// ownerCounters count what owners cost and did; see OwnerStats.
type ownerCounters struct {
	generationReads, revokedFound, evicted     atomic.Uint64
	revokedReceived, destroyAll, cleanupErrors atomic.Uint64
}

// minPruneAt is the size under which ownerState never prunes.
const minPruneAt = 1024

// holdSlack covers the local tier's coarse clock and the instants between
// an admit and its install.
const holdSlack = time.Second

func newOwnerState(r remote.Store, o Options) *ownerState {
	st := &ownerState{
		ttl:     o.OwnerTTL,
		hold:    o.LocalTTL + o.StaleIfError + holdSlack,
		timeout: o.LoadTimeout,
		now:     o.Now,
		gens:    make(map[string]knownGen),
		held:    make(map[string]map[string]heldKey),
		pruneAt: minPruneAt,
		epoch:   1,
	}
	if st.now == nil {
		st.now = time.Now
	}
	st.remote, _ = r.(remote.Owners)
	return st
}

// floor returns the highest generation known for owner, trusted or not,
// and whether it is trusted.
func (o *ownerState) floor(owner string) (gen uint64, trusted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := o.gens[owner]
	return k.gen, o.now().Before(k.until)
}

// admit decides whether rec, read or written, may go into the local tier,
// given gen, the owner's generation its caller checked it against (rule
// 1). It runs under rec's slot lock. A record without owner is always
// admitted.
func (o *ownerState) admit(rec Record, gen uint64) bool {
	if rec.Owner == "" {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if rec.Generation < max(gen, o.gens[rec.Owner].gen) {
		return false
	}
	keys := o.held[rec.Owner]
	if keys == nil {
		keys = make(map[string]heldKey)
		o.held[rec.Owner] = keys
	}
	if _, ok := keys[rec.Key]; !ok {
		o.nheld++
	}
	keys[rec.Key] = heldKey{gen: rec.Generation, until: o.now().Add(o.hold)}
	o.pruneLocked()
	return true
}

// raise records that owner's generation is at least gen, trusted until
// until (zero: only as a floor), and returns the held keys created under a
// lower generation, which the caller must evict (rule 2). epoch, if not
// zero, is the epoch the knowledge dates from: knowledge from before a
// reset is not recorded.
func (o *ownerState) raise(owner string, gen uint64, until time.Time, epoch uint64) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if epoch != 0 && epoch != o.epoch {
		return nil
	}
	k := o.gens[owner]
	if gen < k.gen {
		return nil
	}
	if until.Before(k.until) {
		until = k.until
	}
	o.gens[owner] = knownGen{gen: gen, until: until}
	var evict []string
	for key, h := range o.held[owner] {
		if h.gen < gen {
			evict = append(evict, key)
			delete(o.held[owner], key)
			o.nheld--
		}
	}
	if len(o.held[owner]) == 0 {
		delete(o.held, owner)
	}
	o.pruneLocked()
	return evict
}

// currentEpoch returns the epoch a generation read starting now dates
// from; never 0.
func (o *ownerState) currentEpoch() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

// reset forgets every generation and every held key: the local tier is
// being purged, and events may have been missed. It runs under every slot
// lock (changeAll).
func (o *ownerState) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.gens)
	clear(o.held)
	o.nheld = 0
	o.epoch++
}

// pruneLocked drops the held keys past their time and the generations no
// longer trusted, once the maps have doubled since the last prune (so
// pruning costs O(1) per admit, amortized). Caller holds o.mu.
func (o *ownerState) pruneLocked() {
	if o.nheld+len(o.gens) < o.pruneAt {
		return
	}
	now := o.now()
	for owner, keys := range o.held {
		for key, h := range keys {
			if !now.Before(h.until) {
				delete(keys, key)
				o.nheld--
			}
		}
		if len(keys) == 0 {
			delete(o.held, owner)
		}
	}
	for owner, k := range o.gens {
		// An untrusted generation is only a floor, and a read of the
		// remote gives at least as much.
		if !now.Before(k.until) && o.held[owner] == nil {
			delete(o.gens, owner)
		}
	}
	o.pruneAt = max(minPruneAt, 2*(o.nheld+len(o.gens)))
}

// ownerGeneration returns the generation an owned record of owner must be
// compared with: the one known, if trusted, or else one read from the
// remote now (one read per owner at a time, shared). fresh forces the read.
// Raising what the Store knows may evict held keys; ownerGeneration does
// that too. Without remote owners it returns what events taught.
func (s *Store) ownerGeneration(ctx context.Context, owner string, fresh bool) (uint64, error) {
	o := s.owners
	gen, trusted := o.floor(owner)
	if o.remote == nil || (trusted && !fresh) {
		return gen, nil
	}
	ch := o.reads.DoChan(owner, func() (any, error) {
		// Shared by every caller waiting on this owner: detached from
		// the one that started it, bounded on its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
		defer cancel()
		epoch := o.currentEpoch()
		start := o.now()
		o.stats.generationReads.Add(1)
		g, err := o.remote.Generation(rctx, owner)
		if err != nil {
			return uint64(0), err
		}
		s.evict(o.raise(owner, g, start.Add(o.ttl), epoch))
		return g, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return max(gen, r.Val.(uint64)), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// learn records that owner's generation is at least gen, known since
// start (a Revoke or an owned Create just read it), and evicts what that
// revokes.
func (s *Store) learn(owner string, gen uint64, start time.Time) {
	s.evict(s.owners.raise(owner, gen, start.Add(s.owners.ttl), 0))
}

// evict drops keys from the local tier, each as a change (rule 2).
func (s *Store) evict(keys []string) {
	for _, key := range keys {
		s.change(key, func() { s.local.Remove(key) })
	}
	s.owners.stats.evicted.Add(uint64(len(keys)))
}
