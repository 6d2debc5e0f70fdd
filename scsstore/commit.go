package scsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/tiersession/tiersession/tier"
)

// commitAttempts bounds how many times CommitCtx starts over when the
// session appears or vanishes between its read and its write. Version
// conflicts do not count here: tier.Store.Update retries those itself.
const commitAttempts = 3

// CommitCtx stores b as the session of token until expiry, over whatever
// is stored: through scs the last writer wins (see the package
// documentation). When b decodes to the deadline and values already
// stored and expiry does not move earlier, it only extends the expiry
// (Backend.Touch, which tier.Store throttles) instead of writing b.
//
// expiry is rounded up to a whole second. An expiry that has already
// passed deletes the session. A malformed token fails with
// ErrInvalidToken.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	s.stats.commits.Add(1)
	key, ok := s.storageKey(token)
	if !ok {
		return ErrInvalidToken
	}
	if !expiry.After(s.now()) {
		// scs's own stores keep such a session where Find no longer
		// sees it; the remote refuses an expiry in the past. Either way
		// the session is over.
		s.stats.expired.Add(1)
		if err := s.backend.Delete(ctx, key, 0); err != nil {
			return fmt.Errorf("scsstore: commit of an expired session: %w", err)
		}
		return nil
	}
	exp := roundUp(expiry)
	var err error
	for attempt := range commitAttempts {
		if attempt > 0 {
			s.stats.retries.Add(1)
		}
		var again bool
		if again, err = s.commitOnce(ctx, key, b, exp); !again {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("scsstore: commit: %w", err)
	}
	return nil
}

// commitOnce is one attempt of CommitCtx. again reports that the session
// appeared or vanished between the read and the write, so that the
// attempt must start over from a fresh read.
func (s *Store) commitOnce(ctx context.Context, key string, b []byte, exp time.Time) (again bool, err error) {
	cur, found, err := s.backend.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if !found {
		_, err = s.backend.Create(ctx, tier.Record{Key: key, Data: b, ExpiresAt: exp})
		if errors.Is(err, tier.ErrConflict) {
			return true, err // created meanwhile: save over it
		}
		s.wrote(err)
		return false, err
	}
	// Touch never moves an expiry earlier; a commit that does must write.
	if !exp.Before(cur.ExpiresAt) && s.unchanged(cur.Data, b) {
		_, err = s.backend.Touch(ctx, key, exp)
		if errors.Is(err, tier.ErrNotFound) {
			return true, err // deleted or expired meanwhile: create it
		}
		if err == nil {
			s.stats.touches.Add(1)
		}
		return false, err
	}
	_, err = s.backend.Save(ctx, tier.Record{Key: key, Data: b, Version: cur.Version, ExpiresAt: exp})
	if errors.Is(err, tier.ErrConflict) {
		// Another writer got in between. scs asked to store b whatever
		// is there: save over the newer version. Update rereads (with a
		// consistent read where the remote has one, so the retry does
		// not meet the same stale version) and retries on conflict.
		_, err = s.backend.Update(ctx, key, func(r tier.Record) (tier.Record, error) {
			r.Data, r.ExpiresAt = b, exp
			return r, nil
		})
	}
	if errors.Is(err, tier.ErrNotFound) {
		return true, err // deleted or expired meanwhile: create it
	}
	s.wrote(err)
	return false, err
}

// wrote counts a data write that ended with err.
func (s *Store) wrote(err error) {
	if err == nil {
		s.stats.writes.Add(1)
	}
}

// unchanged reports whether committed, the data scs is committing, holds
// the same session as stored: the same deadline and the same values once
// decoded. Equal bytes are the same session whatever they hold; otherwise
// both sides are decoded, because gob (scs's default codec) writes map
// entries in random order and one session has many encodings. Anything
// that does not decode counts as changed: a needless write costs less
// than a lost one.
func (s *Store) unchanged(stored, committed []byte) bool {
	if bytes.Equal(stored, committed) {
		return true
	}
	newDeadline, newValues, err := s.codec.Decode(committed)
	if err != nil {
		s.stats.undecodable.Add(1)
		return false
	}
	oldDeadline, oldValues, err := s.codec.Decode(stored)
	if err != nil {
		s.stats.undecodable.Add(1)
		return false
	}
	if !newDeadline.Equal(oldDeadline) || len(newValues) != len(oldValues) {
		return false
	}
	// An empty map and a nil one are the same session; codecs differ in
	// which one they decode to.
	return len(newValues) == 0 || reflect.DeepEqual(newValues, oldValues)
}

// roundUp rounds t up to a whole second: the remote keeps expiries in
// whole seconds, and a session must not end before scs said it would.
func roundUp(t time.Time) time.Time {
	r := t.Truncate(time.Second)
	if r.Before(t) {
		r = r.Add(time.Second)
	}
	return r
}
