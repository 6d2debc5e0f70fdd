package tier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tiersession/tiersession/local"
	"github.com/tiersession/tiersession/metrics"
	"github.com/tiersession/tiersession/remote"
)

// Record is a session as the Store hands it out. Records returned by Get
// share their Data with the local tier: treat Data as read-only (Update
// hands its function a private copy).
type Record = remote.Record

// Errors callers act on, matched with errors.Is. The remote tier's
// sentinels are the same values, so either package's name matches.
var (
	// ErrNotFound: no live session under the key.
	ErrNotFound = remote.ErrNotFound
	// ErrConflict: the session changed since the version the caller
	// holds. The local copy has been dropped; read again and retry.
	ErrConflict = remote.ErrConflict
	// ErrTooLarge: the session does not fit in one remote item.
	ErrTooLarge = remote.ErrTooLarge
	// ErrInvalid: a key that is empty, too long or not valid UTF-8, or an
	// expiry not in the future. Refused before any remote request.
	ErrInvalid = remote.ErrInvalid
	// ErrUnavailable: the remote failed, timed out (LoadTimeout) or is
	// overloaded, or the Store refused to ask it (MaxConcurrentLoads, an
	// open circuit breaker). Nothing was written.
	ErrUnavailable = remote.ErrUnavailable
	// ErrCorrupt: a stored item does not decode.
	ErrCorrupt = remote.ErrCorrupt
	// ErrUnknownOutcome: a write may or may not have been applied. The
	// local copy has been dropped, so the next read asks the remote.
	ErrUnknownOutcome = remote.ErrUnknownOutcome
	// ErrRevoked: an owned Create raced DestroyAll of its owner; the
	// session was not created (see remote.Owners).
	ErrRevoked = remote.ErrRevoked
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("tier: store closed")
)

// Store is the session store users call: an in-process local tier in front
// of a remote source of truth. It is safe for concurrent use.
//
// Reads go through the local tier; concurrent misses for one key share one
// remote read. Writes go to the remote first, with a version check, then
// into the local tier, then onto the bus. See the package documentation for
// the guarantees.
type Store struct {
	// A hit reads local and closed only: they share the struct's first
	// cache line with remote, none of them written after New but closed,
	// once, by Close. Fields written on misses and writes come later.
	remote remote.Store
	local  *local.Cache
	closed atomic.Bool

	opts    Options
	flights singleflight.Group
	changes *changes
	metrics *metrics.Collector
	breaker *gobreaker.CircuitBreaker[loaded] // nil: no breaker
	loading atomic.Int64                      // remote reads in flight
	purges  purger
	owners  *ownerState

	bus       busState
	closeOnce sync.Once

	stats counters
}

// New returns a Store over r. With a Bus in opts, New waits up to
// Options.BusWait for the subscription and then returns whether or not it
// is live: a node starts while its bus is down, keeps trying in the
// background, and purges its local tier when the subscription comes up
// (events published meanwhile were missed).
func New(r remote.Store, opts Options) (*Store, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil remote store", ErrBadOptions)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if opts.Origin == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		opts.Origin = hex.EncodeToString(b[:])
	}
	lc, err := local.New(local.Options{
		Capacity:    opts.LocalCapacity,
		MaxBytes:    opts.LocalMaxBytes,
		StaleGrace:  opts.StaleIfError,
		TTL:         opts.LocalTTL,
		NegativeTTL: opts.NegativeTTL,
		Admission:   opts.LocalAdmission,
		Now:         opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	s := &Store{remote: r, local: lc, opts: opts, changes: newChanges(), breaker: newBreaker(opts), owners: newOwnerState(r, opts)}
	s.purges.init(opts.MinPurgeInterval, s.purge)
	if opts.Registerer != nil {
		s.metrics, err = metrics.New(opts.Registerer, metrics.Options{ConstLabels: opts.MetricLabels, Buckets: metrics.LatencyBuckets(opts.LoadTimeout)}, s.Stats)
		if err != nil {
			lc.Close()
			return nil, fmt.Errorf("tier: registering metrics: %w", err)
		}
	}
	if opts.Bus != nil {
		s.subscribe()
	}
	return s, nil
}

// Close stops the Store's goroutines and its bus subscription and
// unregisters its metrics. It does not close the remote store or the bus.
// Calls after Close return ErrClosed. Close is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.bus.stop()
		s.purges.stop()
		if s.metrics != nil {
			s.opts.Registerer.Unregister(s.metrics)
		}
		s.local.Close()
	})
	return nil
}

// Get returns the live session stored under key; found is false, with a
// nil error, when there is none, and when the session was revoked (see
// DestroyAll). A local hit costs no allocation and no remote call. The
// record has no owner fields (Owner, Meta, CreatedAt, Generation): the
// local tier does not keep them; List shows them.
func (s *Store) Get(ctx context.Context, key string) (Record, bool, error) {
	if s.closed.Load() { // written once, by Close: a shared read costs nothing
		return Record{}, false, ErrClosed
	}
	// The hit is the whole of this function; everything else is in miss.
	e, res := s.local.Get(key)
	if res == local.Hit {
		return Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, true, nil
	}
	return s.miss(ctx, key, res)
}

// miss is Get after the local tier did not have a live record.
func (s *Store) miss(ctx context.Context, key string, res local.Result) (Record, bool, error) {
	if res == local.NegativeHit {
		return Record{}, false, nil
	}
	return s.load(ctx, key)
}

// loaded is what one shared remote read produced.
type loaded struct {
	rec   Record
	found bool
}

// load reads key from the remote on a local miss. Concurrent loads of one
// key share one remote read.
func (s *Store) load(ctx context.Context, key string) (Record, bool, error) {
	if err := validKey(key); err != nil {
		return Record{}, false, err
	}
	leader := false
	ch := s.flights.DoChan(key, func() (any, error) {
		leader = true
		// The flight outlives any one caller: detach it from the caller
		// that happened to start it, keep its values, bound it on its own.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.LoadTimeout)
		defer cancel()
		return s.loadShared(lctx, key)
	})
	early, stop := s.staleDeadline(ctx, key)
	defer stop()
	for {
		select {
		case r := <-ch:
			if r.Shared && !leader {
				s.stats.sharedLoads.Add(1)
			}
			if r.Err != nil {
				return Record{}, false, r.Err
			}
			l := r.Val.(loaded)
			return l.rec, l.found, nil
		case <-early:
			// The caller's deadline is about to pass and the remote has
			// not answered: a recent copy beats an error (StaleIfError).
			if rec, ok := s.stale(key); ok {
				return rec, true, nil
			}
			early = nil
		case <-ctx.Done():
			return Record{}, false, ctx.Err()
		}
	}
}

// staleFraction is the part of a caller's remaining time that Get waits
// for the remote before it serves a stale copy instead (StaleIfError).
const staleFraction = 0.9

// staleDeadline returns a channel that fires when a caller with ctx has
// waited staleFraction of its remaining time for a load of key, if
// StaleIfError is on, ctx has a deadline and a stale copy of key is held;
// otherwise a nil channel. stop releases its timer.
func (s *Store) staleDeadline(ctx context.Context, key string) (<-chan time.Time, func()) {
	if s.opts.StaleIfError <= 0 {
		return nil, func() {}
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, func() {}
	}
	if _, ok := s.local.Stale(key); !ok {
		return nil, func() {}
	}
	t := time.NewTimer(time.Duration(float64(time.Until(dl)) * staleFraction))
	return t.C, func() { t.Stop() }
}

// stale returns the local copy of key that StaleIfError allows serving
// when the remote cannot answer, and counts it.
func (s *Store) stale(key string) (Record, bool) {
	if s.opts.StaleIfError <= 0 {
		return Record{}, false
	}
	e, ok := s.local.Stale(key)
	if !ok {
		return Record{}, false
	}
	s.stats.staleServed.Add(1)
	return Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, true
}

// loadShared is the body of one shared load.
func (s *Store) loadShared(ctx context.Context, key string) (loaded, error) {
	// The stamp comes first: whatever the remote says below is installed
	// only if nothing changed key on this node from here on.
	st := s.changes.stamp(key)
	// Look again: between this caller's miss and the start of its flight,
	// an earlier flight for the same key may have finished, or a write on
	// this node may have installed the record. Either answer is at least as
	// fresh as what a remote read would give, and costs nothing. Peek, not
	// Get: this caller's miss is already counted.
	if e, res := s.local.Peek(key); res == local.Hit {
		return loaded{Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, true}, nil
	} else if res == local.NegativeHit {
		return loaded{}, nil
	}
	rec, found, err := s.read(ctx, key, false)
	if err == nil {
		// If the key changed on this node while the read was in flight,
		// what it read may be the version the change made obsolete:
		// answer the callers that asked before the change, cache nothing
		// (see changes). A revoked session is not found.
		rec, found, err = s.settleLoad(ctx, key, st, rec, found)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// ctx is the flight's own (LoadTimeout), never a caller's: no
		// caller may mistake this for the end of its own context.
		err = fmt.Errorf("%w: remote read exceeded LoadTimeout (%v): %v", ErrUnavailable, s.opts.LoadTimeout, err)
	}
	if err != nil {
		if rec, ok := s.stale(key); ok {
			return loaded{rec, true}, nil
		}
		return loaded{}, err
	}
	return loaded{rec, found}, nil
}
