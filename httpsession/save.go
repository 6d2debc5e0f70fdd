package httpsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/tier"
)

// commit runs once, when the response starts: it saves the session if the
// request changed it and sets the response's session headers.
func (s *Session) commit(ctx context.Context, h http.Header) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	if err := s.saveLocked(ctx); err != nil {
		return err
	}
	s.m.writeHeaders(h, s)
	return nil
}

// finish runs when the handler has returned after a successful commit:
// it saves changes made after the response started, or else moves the
// idle deadline of a session the request read.
func (s *Session) finish(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m
	if len(s.dirty) > 0 {
		err := ErrResponseStarted // a session never stored: no cookie can name it now
		if s.key != "" {
			err = s.saveLocked(ctx)
		}
		if err != nil {
			m.stats.lateSaveErrors.Add(1)
			if m.opts.Logger != nil {
				m.opts.Logger.ErrorContext(ctx, "httpsession: changes made after the response started were not saved", "err", err)
			}
		}
		return
	}
	if s.key != "" && !s.wrote {
		s.touchLocked(ctx)
	}
}

// saveLocked writes this request's changes, if any: a new session is
// created, a stored one saved at the version this request read. Caller
// holds s.mu.
func (s *Session) saveLocked(ctx context.Context) error {
	if len(s.dirty) == 0 {
		return nil
	}
	m := s.m
	ctx, cancel := m.writeContext(ctx)
	defer cancel()
	now := m.opts.Now()
	dl := m.deadline(s.created, now)
	if !dl.After(now) {
		return fmt.Errorf("%w: Lifetime reached", ErrSessionEnded)
	}
	data, err := m.encodeSession(s.created, s.owned, s.values)
	if err != nil {
		return err
	}
	if s.key == "" {
		return s.createLocked(ctx, data, dl, now)
	}
	out, err := m.store.Save(ctx, tier.Record{Key: s.key, Version: s.version, Data: data, ExpiresAt: dl})
	switch {
	case err == nil:
		m.stats.saved.Add(1)
		s.stored(out)
		return nil
	case errors.Is(err, tier.ErrConflict):
		return s.mergeLocked(ctx, s.key, now)
	case errors.Is(err, tier.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrSessionEnded, err)
	}
	return fmt.Errorf("httpsession: saving the session: %w", err)
}

// createLocked stores a new session under a fresh token (or the adopted
// one) and marks the cookie for the response. Caller holds s.mu.
func (s *Session) createLocked(ctx context.Context, data []byte, dl, now time.Time) error {
	m := s.m
	tok := s.token
	if tok == "" {
		tok = s.adopt
	}
	if tok == "" {
		tok = tiersession.NewToken()
	}
	key := tiersession.StorageKey(tok)
	rec := tier.Record{Key: key, Data: data, ExpiresAt: dl}
	if s.owned.owner != "" {
		if m.owners == nil {
			return ErrNoOwners
		}
		rec.Owner, rec.Meta = m.ownerID(s.owned.owner), s.owned.meta
	}
	out, err := m.store.Create(ctx, rec)
	if errors.Is(err, tier.ErrConflict) {
		// Only an adopted token can collide (two requests adopting it at
		// once): join the session the other request created.
		s.key = key
		err = s.mergeLocked(ctx, key, now)
	} else if err != nil {
		return fmt.Errorf("httpsession: creating the session: %w", err)
	} else {
		s.key = key
		s.stored(out)
		m.stats.created.Add(1)
	}
	if err == nil {
		s.token, s.adopt, s.issue = tok, "", true
		if m.opts.Logger != nil {
			m.opts.Logger.DebugContext(ctx, "httpsession: session created")
		}
	}
	return err
}

// movedError is how an Update function reports that the record it was
// given is a pointer: the session was renewed and lives on under to.
type movedError struct{ to string }

func (e *movedError) Error() string { return "httpsession: session renewed meanwhile" }

// mergeLocked saves this request's changes over whatever the session holds
// now, after a version conflict: inside store.Update, which re-reads and
// retries on further conflicts, it applies only the keys this request set
// or removed (per key, the last writer wins) and follows the session if a
// Renew moved it. Caller holds s.mu.
func (s *Session) mergeLocked(ctx context.Context, key string, now time.Time) error {
	m := s.m
	for range maxHops + 1 {
		var values map[string]any
		var created time.Time
		var own owned
		out, err := m.store.Update(ctx, key, func(cur tier.Record) (tier.Record, error) {
			p, err := parseRecord(cur.Data)
			if err != nil {
				return cur, err
			}
			if p.successor != "" {
				return cur, &movedError{to: p.successor}
			}
			if !m.live(p.created, cur.ExpiresAt, now) {
				return cur, fmt.Errorf("%w: Lifetime reached", ErrSessionEnded)
			}
			vals, err := m.decodeValues(p.payload)
			if err != nil {
				return cur, err
			}
			s.applyChanges(vals)
			if cur.Data, err = m.encodeSession(p.created, p.owned, vals); err != nil {
				return cur, err
			}
			cur.ExpiresAt = m.deadline(p.created, now)
			values, created, own = vals, p.created, p.owned
			return cur, nil
		})
		var moved *movedError
		switch {
		case errors.As(err, &moved):
			key = moved.to
			continue
		case errors.Is(err, tier.ErrNotFound):
			return fmt.Errorf("%w: %w", ErrSessionEnded, err)
		case err != nil:
			return fmt.Errorf("httpsession: merging the session after a conflict: %w", err)
		}
		m.stats.merged.Add(1)
		s.key, s.values, s.created, s.owned = key, values, created, own
		s.stored(out)
		return nil
	}
	return fmt.Errorf("%w: renewed more than %d times meanwhile", ErrSessionEnded, maxHops)
}

// stored records a successful write of the session. Caller holds s.mu.
func (s *Session) stored(out tier.Record) {
	s.version, s.expiresAt, s.wrote = out.Version, out.ExpiresAt, true
	clear(s.dirty)
}

// touchLocked moves the idle deadline of a session the request did not
// change. store.Touch is throttled (tier.Options.TouchInterval), so most
// requests write nothing. Failures are logged and counted, not returned:
// the response is already on its way. Caller holds s.mu.
func (s *Session) touchLocked(ctx context.Context) {
	m := s.m
	now := m.opts.Now()
	dl := m.deadline(s.created, now)
	if !dl.After(s.expiresAt) || !dl.After(now) {
		return
	}
	ctx, cancel := m.writeContext(ctx)
	defer cancel()
	out, err := m.store.Touch(ctx, s.key, dl)
	if err == nil && out.ExpiresAt.Before(now.Add(m.opts.IdleTimeout/2)) && dl.After(out.ExpiresAt) {
		// The store's throttle is coarser than half the IdleTimeout, so
		// Touch would let an active session lapse: move the deadline with
		// a data write instead. With the defaults this never happens.
		m.stats.extended.Add(1)
		_, err = m.store.Update(ctx, s.key, func(cur tier.Record) (tier.Record, error) {
			if p, err := parseRecord(cur.Data); err != nil || p.successor != "" {
				return cur, ErrSessionEnded // renewed or unreadable: nothing to extend
			}
			if dl.After(cur.ExpiresAt) {
				cur.ExpiresAt = dl
			}
			return cur, nil
		})
	}
	if err != nil && !errors.Is(err, tier.ErrNotFound) && !errors.Is(err, ErrSessionEnded) {
		m.stats.touchErrors.Add(1)
		if m.opts.Logger != nil {
			m.opts.Logger.WarnContext(ctx, "httpsession: extending the idle deadline failed", "err", err)
		}
	}
}
