package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// sessionStore is what a system under test offers the workload: the
// method set of tier.Store, which the other systems imitate so that every
// system runs the very same request code.
type sessionStore interface {
	// Get returns the live session; found is false when it is absent.
	Get(ctx context.Context, key string) (rec remote.Record, found bool, err error)
	// Save stores rec as version rec.Version+1 if the stored version is
	// rec.Version; a mismatch is an error matching remote.ErrConflict.
	Save(ctx context.Context, rec remote.Record) (remote.Record, error)
	// Update runs an optimistic read-modify-write loop over fn.
	Update(ctx context.Context, key string, fn func(remote.Record) (remote.Record, error)) (remote.Record, error)
	// Touch extends the session's expiry.
	Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error)
}

// maxUpdateAttempts bounds the read-modify-write loops this package
// implements itself (remote only, Redis), as tier.Store bounds its own.
const maxUpdateAttempts = 10

// errTooManyConflicts ends a read-modify-write loop that kept losing.
var errTooManyConflicts = errors.New("bench: update gave up after repeated version conflicts")

// remoteOnly is the baseline: a session store that reads the remote on
// every request and writes straight to it, as today's DynamoDB session
// stores do.
type remoteOnly struct{ r remote.Store }

var _ sessionStore = remoteOnly{}

// Get reads the remote.
func (s remoteOnly) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	return s.r.Get(ctx, key)
}

// Save is a version-checked Put.
func (s remoteOnly) Save(ctx context.Context, rec remote.Record) (remote.Record, error) {
	return s.r.Put(ctx, rec, rec.Version)
}

// Update reads, applies fn and writes back, retrying on conflict.
func (s remoteOnly) Update(ctx context.Context, key string, fn func(remote.Record) (remote.Record, error)) (remote.Record, error) {
	return updateLoop(ctx, key, s.r.Get, s.Save, fn)
}

// Touch extends the expiry in the remote.
func (s remoteOnly) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	return s.r.Touch(ctx, key, expiresAt)
}

// updateLoop is the optimistic read-modify-write loop shared by the
// stores this package implements: read, apply fn, save at the version
// read, and start over on a conflict, at most maxUpdateAttempts times.
func updateLoop(
	ctx context.Context, key string,
	get func(context.Context, string) (remote.Record, bool, error),
	save func(context.Context, remote.Record) (remote.Record, error),
	fn func(remote.Record) (remote.Record, error),
) (remote.Record, error) {
	for range maxUpdateAttempts {
		cur, found, err := get(ctx, key)
		if err != nil {
			return remote.Record{}, err
		}
		if !found {
			return remote.Record{}, fmt.Errorf("bench: update %w", remote.ErrNotFound)
		}
		next, err := fn(cur)
		if err != nil {
			return remote.Record{}, err
		}
		next.Key, next.Version = key, cur.Version
		saved, err := save(ctx, next)
		if errors.Is(err, remote.ErrConflict) {
			continue
		}
		return saved, err
	}
	return remote.Record{}, errTooManyConflicts
}

// sessionLifetime is how far in the future preloaded, written and touched
// sessions expire: long enough that nothing expires during a run.
const sessionLifetime = 24 * time.Hour

// requestRunner executes drawn requests against a store. Each worker owns
// one; it is not safe for concurrent use.
type requestRunner struct {
	keys    []string
	gen     *Generator
	counter uint64
	json    bool // payloads are JSON sessions: nextPayload keeps them valid
}

// outcome of one request, beyond its latency.
type requestOutcome int

const (
	outcomeOK       requestOutcome = iota
	outcomeConflict                // a version check failed (OpUpdate)
	outcomeMissing                 // the session was not found
	outcomeError                   // any other error
)

// do executes req against st.
func (w *requestRunner) do(ctx context.Context, st sessionStore, req Request) requestOutcome {
	key := w.keys[req.Session]
	if req.Op == OpReadModifyWrite {
		_, err := st.Update(ctx, key, func(cur remote.Record) (remote.Record, error) {
			cur.Data = w.nextPayload(cur.Data)
			cur.ExpiresAt = time.Now().Add(sessionLifetime)
			return cur, nil
		})
		return classify(err)
	}
	rec, found, err := st.Get(ctx, key)
	if err != nil {
		return outcomeError
	}
	if !found {
		return outcomeMissing
	}
	switch req.Op {
	case OpUpdate:
		rec.Data = w.nextPayload(rec.Data)
		rec.ExpiresAt = time.Now().Add(sessionLifetime)
		_, err = st.Save(ctx, rec)
	case OpTouch:
		_, err = st.Touch(ctx, key, time.Now().Add(sessionLifetime))
	}
	return classify(err)
}

// classify maps a write's error to an outcome.
func classify(err error) requestOutcome {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, remote.ErrConflict):
		return outcomeConflict
	case errors.Is(err, remote.ErrNotFound):
		return outcomeMissing
	default:
		return outcomeError
	}
}

// nextPayload returns a new payload of the same size as old with its
// first bytes (a JSON session's revision) replaced by this worker's write
// counter. It never modifies old, which a store may share with its cache.
func (w *requestRunner) nextPayload(old []byte) []byte {
	p := make([]byte, len(old))
	copy(p, old)
	w.counter++
	c := w.counter
	if w.json && len(p) >= MinJSONPayload {
		setJSONRev(p, c)
		return p
	}
	for i := 0; i < len(p) && i < 8; i++ {
		p[i] = byte(c >> (8 * i))
	}
	return p
}

// newPayload returns size random bytes drawn from r.
func newPayload(r interface{ Uint64() uint64 }, size int) []byte {
	p := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := i; j < size && j < i+8; j++ {
			p[j] = byte(v)
			v >>= 8
		}
	}
	return p
}
