package tier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/local"
	"github.com/tiersession/tiersession/metrics"
	"github.com/tiersession/tiersession/remote"
)

// Create stores a new session as version 1 (rec.Version is ignored). It
// fails with ErrConflict when a live session holds the key.
//
// A record with an Owner (and optionally Meta) is tied to that owner, for
// List and DestroyAll; the returned record carries the owner fields as
// stored. It needs a remote with owners (remote.Owners; ErrInvalid
// otherwise, before any request), and fails with ErrRevoked when it raced
// a DestroyAll of its owner.
func (s *Store) Create(ctx context.Context, rec Record) (Record, error) {
	if s.closed.Load() {
		return Record{}, ErrClosed
	}
	if rec.Owner != "" && s.owners.remote == nil {
		return Record{}, errNoOwners
	}
	st := s.changes.stamp(rec.Key)
	known := s.owners.now()
	start := time.Now()
	out, err := s.remote.Create(ctx, rec)
	if err == nil && out.Owner != "" {
		// The remote read the owner's generation after writing: as fresh
		// a reading as any.
		s.learn(out.Owner, out.Generation, known)
	}
	return s.afterWrite(ctx, metrics.OpCreate, start, rec.Key, st, out, err, invalidation.Changed)
}

// Save writes rec as the next version of the session it was read as:
// rec.Version is the version the caller holds, and the stored record gets
// rec.Version+1. If the session changed meanwhile, Save fails with
// ErrConflict and drops the local copy. The owner fields of rec are
// ignored: a session keeps the ones Create gave it; the record returned
// has none, as Get's. A Save to a revoked session fails with ErrNotFound.
func (s *Store) Save(ctx context.Context, rec Record) (Record, error) {
	if s.closed.Load() {
		return Record{}, ErrClosed
	}
	st := s.changes.stamp(rec.Key)
	start := time.Now()
	out, err := s.remote.Put(ctx, rec, rec.Version)
	return s.afterWrite(ctx, metrics.OpPut, start, rec.Key, st, out, err, invalidation.Changed)
}

// Touch moves the session's expiry to expiresAt (never earlier) without
// changing its data or version. Touch is throttled: when the local copy
// already expires within TouchInterval of expiresAt, it returns that copy
// and writes nothing, so a busy session is not written on every request.
// A key or an expiry the remote would refuse (ErrInvalid) is refused
// whether or not the copy is local.
func (s *Store) Touch(ctx context.Context, key string, expiresAt time.Time) (Record, error) {
	if s.closed.Load() {
		return Record{}, ErrClosed
	}
	if err := validKey(key); err != nil {
		return Record{}, err
	}
	if !expiresAt.After(s.now()) {
		return Record{}, fmt.Errorf("%w: expiry %v is not in the future", ErrInvalid, expiresAt)
	}
	if s.opts.TouchInterval > 0 {
		if e, res := s.local.Get(key); res == local.Hit && !e.ExpiresAt.Before(expiresAt.Add(-s.opts.TouchInterval)) {
			s.stats.touchSkipped.Add(1)
			return Record{Key: key, Data: e.Data, Version: e.Version, ExpiresAt: e.ExpiresAt}, nil
		}
	}
	st := s.changes.stamp(key)
	start := time.Now()
	out, err := s.remote.Touch(ctx, key, expiresAt)
	return s.afterWrite(ctx, metrics.OpTouch, start, key, st, out, err, invalidation.Touched)
}

// now is the Store's clock for validating arguments.
func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// afterWrite settles the local tier and the bus after a remote write; st
// is the change stamp taken before the write was sent.
func (s *Store) afterWrite(ctx context.Context, op metrics.Op, start time.Time, key string, st stamp, out Record, err error, kind invalidation.Kind) (Record, error) {
	if isArgumentError(err) {
		return Record{}, err // refused before any request: nothing changed
	}
	s.observe(op, start, writeResult(err))
	if err != nil {
		// A conflict means the local copy is stale; an unknown outcome
		// means it may be. Either way the next read must ask the remote.
		if errors.Is(err, ErrConflict) {
			s.stats.conflicts.Add(1)
		}
		s.change(key, func() { s.local.Remove(key) })
		return Record{}, err
	}
	// A Touch keeps the version, so copies of that very version are older
	// (earlier expiry) than what it wrote.
	below := out.Version
	if kind == invalidation.Touched {
		below++
	}
	var gen uint64
	if out.Owner != "" {
		if gen, err = s.ownerGeneration(ctx, out.Owner, false); err != nil {
			// Written, but whether it is revoked cannot be told now:
			// keep it out of the local tier; the next read checks it.
			s.change(key, func() { s.local.Remove(key) })
			s.publish(ctx, invalidation.Event{Key: key, Version: out.Version, Kind: kind})
			return answer(op, out), nil
		}
	}
	revoked := out.Generation < gen
	if !revoked {
		e := local.Entry{Data: out.Data, Version: out.Version, ExpiresAt: out.ExpiresAt}
		s.settle(key, st,
			func() {
				if revoked = !s.owners.admit(out, gen); !revoked {
					s.local.Install(key, e)
				}
			},
			func() { s.local.RemoveIfOlder(key, below) })
	}
	if revoked {
		// The owner's sessions were revoked before this write landed (a
		// DestroyAll elsewhere, whose index missed this one): the write
		// reached a session that no longer exists.
		s.dropRevoked(ctx, out)
		if op == metrics.OpCreate {
			return Record{}, fmt.Errorf("%w: the owner's sessions were revoked as the session was created", ErrRevoked)
		}
		return Record{}, fmt.Errorf("%w: the session was revoked", ErrNotFound)
	}
	s.publish(ctx, invalidation.Event{Key: key, Version: out.Version, Kind: kind})
	return answer(op, out), nil
}

// answer is the record a write returns: Create's as stored, the others'
// without owner fields, as Get's (a throttled Touch answers from the local
// tier, which keeps none).
func answer(op metrics.Op, out Record) Record {
	if op == metrics.OpCreate {
		return out
	}
	return plain(out)
}

// isArgumentError reports errors the remote returns before sending
// anything.
func isArgumentError(err error) bool {
	return errors.Is(err, remote.ErrInvalid) || errors.Is(err, remote.ErrTooLarge)
}

// Delete removes the session. With version 0 it deletes whatever is
// stored; otherwise only that version (ErrConflict if it changed).
// Deleting an absent session is not an error.
func (s *Store) Delete(ctx context.Context, key string, version uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	st := s.changes.stamp(key)
	// The deleted version is the floor below which a read still in flight
	// must not bring the record back: the caller's, or else the cached one.
	floor := version
	if e, res := s.local.Peek(key); res == local.Hit && e.Version > floor {
		floor = e.Version
	}
	start := time.Now()
	err := s.remote.Delete(ctx, key, version)
	if isArgumentError(err) {
		return err
	}
	s.observe(metrics.OpDelete, start, writeResult(err))
	if err != nil {
		if errors.Is(err, ErrConflict) {
			s.stats.conflicts.Add(1)
		}
		s.change(key, func() { s.local.Remove(key) })
		return err
	}
	// Remember the absence only if nothing else changed the key since the
	// delete was sent: a Create that landed after it would otherwise be
	// hidden for NegativeTTL.
	s.settle(key, st,
		func() {
			s.local.Remove(key)
			s.local.InstallNotFound(key, floor)
		},
		func() { s.local.Remove(key) })
	s.publish(ctx, invalidation.Event{Key: key, Version: floor, Kind: invalidation.Deleted})
	return nil
}

// Update applies fn to the current session and saves the result with a
// version check, retrying from a fresh read when another writer got there
// first (at most MaxUpdateRetries times). fn gets a private copy of the
// record and may change Data and ExpiresAt; Key and Version are restored
// from the record read. fn may run more than once. An error from fn ends
// Update with that error.
//
// Errors: ErrNotFound when there is no live session (at the first read or
// at a reload); ErrConflict, wrapped, when every attempt conflicted;
// ErrUnknownOutcome when the last write may or may not have been applied;
// ErrUnavailable, ErrCorrupt or a context error from a read or a write;
// ErrInvalid or ErrTooLarge for a bad key, expiry or record; ErrClosed;
// or fn's own error.
func (s *Store) Update(ctx context.Context, key string, fn func(Record) (Record, error)) (Record, error) {
	cur, found, err := s.Get(ctx, key)
	for attempt := 0; ; attempt++ {
		if err != nil {
			return Record{}, err
		}
		if !found {
			return Record{}, ErrNotFound
		}
		cur.Data = append([]byte(nil), cur.Data...)
		next, fnErr := fn(cur)
		if fnErr != nil {
			return Record{}, fnErr
		}
		next.Key, next.Version = cur.Key, cur.Version
		out, saveErr := s.Save(ctx, next)
		if saveErr == nil || !errors.Is(saveErr, ErrConflict) {
			return out, saveErr
		}
		if attempt >= s.opts.MaxUpdateRetries {
			return Record{}, fmt.Errorf("tier: update gave up after %d attempts: %w", attempt+1, saveErr)
		}
		s.stats.updateRetries.Add(1)
		cur, found, err = s.reload(ctx, key)
	}
}

// reload reads key after a version conflict. Where the remote offers it,
// the read is strongly consistent: an eventually consistent read may return
// the very version that just conflicted, and the retry would conflict
// again. What it finds is settled like a shared load's answer.
func (s *Store) reload(ctx context.Context, key string) (Record, bool, error) {
	if s.closed.Load() {
		return Record{}, false, ErrClosed
	}
	if _, ok := s.remote.(remote.ConsistentGetter); !ok {
		return s.Get(ctx, key)
	}
	st := s.changes.stamp(key)
	rec, found, err := s.read(ctx, key, true)
	if err != nil {
		return Record{}, false, err
	}
	return s.settleLoad(ctx, key, st, rec, found)
}
