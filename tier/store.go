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
	// ErrInvalid: an empty key, or an expiry not in the future.
	ErrInvalid = remote.ErrInvalid
	// ErrUnknownOutcome: a write may or may not have been applied. The
	// local copy has been dropped, so the next read asks the remote.
	ErrUnknownOutcome = remote.ErrUnknownOutcome
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
	remote  remote.Store
	local   *local.Cache
	opts    Options
	flights singleflight.Group
	changes *changes
	metrics *metrics.Collector

	unsubscribe func()
	closeOnce   sync.Once
	closed      atomic.Bool

	stats counters
}

// New returns a Store over r.
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
		Now:         opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	s := &Store{remote: r, local: lc, opts: opts, changes: newChanges()}
	if opts.Registerer != nil {
		s.metrics, err = metrics.New(opts.Registerer, metrics.Options{ConstLabels: opts.MetricLabels}, s.Stats)
		if err != nil {
			lc.Close()
			return nil, fmt.Errorf("tier: registering metrics: %w", err)
		}
	}
	if opts.Bus != nil {
		if err := s.subscribe(); err != nil {
			if opts.Registerer != nil {
				opts.Registerer.Unregister(s.metrics)
			}
			lc.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close stops the Store's goroutines and its bus subscription and
// unregisters its metrics. It does not close the remote store or the bus.
// Calls after Close return ErrClosed. Close is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.unsubscribe != nil {
			s.unsubscribe()
		}
		if s.metrics != nil {
			s.opts.Registerer.Unregister(s.metrics)
		}
		s.local.Close()
	})
	return nil
}

// Get returns the live session stored under key; found is false, with a
// nil error, when there is none. A local hit costs no allocation and no
// remote call.
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
	if key == "" {
		return Record{}, false, fmt.Errorf("%w: empty key", ErrInvalid)
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
	case <-ctx.Done():
		return Record{}, false, ctx.Err()
	}
}

// loadShared is the body of one shared load.
func (s *Store) loadShared(ctx context.Context, key string) (loaded, error) {
	// Look again: between this caller's miss and the start of its flight,
	// an earlier flight for the same key may have finished, or a write on
	// this node may have installed the record. Either answer is at least as
	// fresh as what a remote read would give, and costs nothing. Peek, not
	// Get: this caller's miss is already counted.
	st := s.changes.stamp(key)
	if e, res := s.local.Peek(key); res == local.Hit {
		return loaded{Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, true}, nil
	} else if res == local.NegativeHit {
		return loaded{}, nil
	}
	start := time.Now()
	rec, found, err := s.remote.Get(ctx, key)
	s.observe(metrics.OpGet, start, readResult(found, err))
	if err != nil {
		if s.opts.StaleIfError > 0 {
			if e, ok := s.local.Stale(key); ok {
				s.stats.staleServed.Add(1)
				return loaded{Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, true}, nil
			}
		}
		return loaded{}, err
	}
	if s.changes.since(key, st) {
		// The key changed on this node while the read was in flight: what
		// it read may be the version the change made obsolete. Answer the
		// callers that asked before the change; cache nothing.
		return loaded{rec, found}, nil
	}
	if !found {
		// Remember the miss briefly. It never hides a live entry that a
		// concurrent write installed meanwhile (see local.InstallNotFound).
		s.local.InstallNotFound(key, 0)
		return loaded{}, nil
	}
	// Install only if newer: a write on this node that finished while this
	// read was in flight holds a higher version and must stay.
	s.local.Install(key, local.Entry{Data: rec.Data, Version: rec.Version, ExpiresAt: rec.ExpiresAt})
	return loaded{rec, true}, nil
}
