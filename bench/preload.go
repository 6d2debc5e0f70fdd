package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// sessionSet describes the sessions of a run: their keys, and for each a
// payload and an expiry derived from the seed, so every system (and every
// store: the remote, Redis) starts from the same data.
type sessionSet struct {
	keys    []string
	payload int
	json    bool // payloads are JSON sessions (jsonPayload), not random bytes
	seed    uint64
	base    time.Time
}

// newSessionSet returns n sessions of payload bytes created at base.
func newSessionSet(n, payload int, seed uint64, base time.Time) sessionSet {
	return sessionSet{keys: sessionKeys(n), payload: payload, seed: seed, base: base}
}

// rng is session i's own random stream.
func (s sessionSet) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(s.seed^0x5e55_10_75, uint64(i)))
}

// data is session i's initial payload.
func (s sessionSet) data(i int) []byte {
	if s.json {
		return jsonPayload(s.rng(i), s.payload)
	}
	return newPayload(s.rng(i), s.payload)
}

// expiry is session i's initial expiry in epoch seconds: between half a
// lifetime and a lifetime after base, as if sessions had been renewed at
// different times. So the first renewal of a session is a real write even
// for a store that throttles renewals.
func (s sessionSet) expiry(i int) int64 {
	half := int64(sessionLifetime / 2)
	return s.base.Add(time.Duration(half + s.rng(i).Int64N(half))).Unix()
}

// record is session i as first stored.
func (s sessionSet) record(i int) remote.Record {
	return remote.Record{Key: s.keys[i], Data: s.data(i), ExpiresAt: time.Unix(s.expiry(i), 0)}
}

// preload stores every session of set in r with at most conc concurrent
// requests. A session that already exists (a table left by an earlier
// run) is overwritten when its payload has another size, so that item
// sizes match the cost model. progress, when set, is called from this
// goroutine about every 100 ms with the sessions done so far.
func preload(ctx context.Context, r remote.Store, set sessionSet, conc int, progress func(done int64)) error {
	var next, done atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range min(conc, len(set.keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(set.keys) {
					return
				}
				if err := preloadOne(ctx, r, set.record(i)); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if progress != nil {
				progress(done.Load())
			}
			if err := context.Cause(ctx); err != nil {
				return fmt.Errorf("bench: preload: %w", err)
			}
			return nil
		case <-tick.C:
			if progress != nil {
				progress(done.Load())
			}
		}
	}
}

// preloadOne creates rec, or brings an existing session to rec's payload
// size.
func preloadOne(ctx context.Context, r remote.Store, rec remote.Record) error {
	_, err := r.Create(ctx, rec)
	if !errors.Is(err, remote.ErrConflict) {
		return err
	}
	cur, found, err := r.Get(ctx, rec.Key)
	if err != nil {
		return err
	}
	if !found {
		_, err = r.Create(ctx, rec)
		return err
	}
	if len(cur.Data) == len(rec.Data) && !cur.ExpiresAt.Before(rec.ExpiresAt.Add(-sessionLifetime/2)) {
		return nil
	}
	_, err = r.Put(ctx, rec, cur.Version)
	if errors.Is(err, remote.ErrConflict) {
		return nil // someone else wrote it meanwhile; it exists, good enough
	}
	return err
}
