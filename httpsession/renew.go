package httpsession

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/tier"
)

// errRenewedElsewhere is how Renew's Update function stops when another
// request renewed the session first.
var errRenewedElsewhere = fmt.Errorf("httpsession: session renewed by another request: %w", tier.ErrConflict)

// Renew gives r's session a new token, as after a login or any change of
// privilege, so that a token known before (planted by an attacker, or
// seen by one) does not reach the session after it. Call it before the
// response starts; the response sets the new cookie.
//
// The session's values, with this request's changes, move to a record
// under the new token's key; the old record becomes a pointer to it that
// expires RenewGrace from now, so requests already in flight with the old
// cookie keep the session (and their changes land in it) until then; they
// are not sent a cookie. The session keeps its creation time: Renew does
// not extend the Lifetime. A session that is not stored yet only gets a
// new token; it is stored when it has values.
//
// Errors: ErrNoSession, ErrResponseStarted, ErrSessionEnded when the
// session ended meanwhile, an error matching tier.ErrConflict when another
// request renewed it first, or a store error. On error the session keeps
// its token.
func (m *Manager) Renew(r *http.Request) error {
	s, err := m.sessionOf(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrResponseStarted
	}
	tok := tiersession.NewToken()
	if s.key == "" {
		s.token, s.adopt = tok, ""
		m.stats.renewed.Add(1)
		return nil
	}
	ctx, cancel := m.writeContext(r.Context())
	defer cancel()
	now := m.opts.Now()
	next := tier.Record{Key: tiersession.StorageKey(tok)}
	var values map[string]any
	var created time.Time
	// Inside one Update of the old record: copy the latest session, with
	// this request's changes, to the new key, then turn the old record
	// into the pointer. Until the pointer lands nobody else knows the new
	// key, so rewriting it when the Update retries conflicts with no one;
	// and a change another request makes to the old record before the
	// pointer lands makes the pointer's write conflict, so it is copied on
	// the retry. Nothing is lost either way.
	ptr, err := m.store.Update(ctx, s.key, func(cur tier.Record) (tier.Record, error) {
		p, err := parseRecord(cur.Data)
		if err != nil {
			return cur, err
		}
		if p.successor != "" {
			return cur, errRenewedElsewhere
		}
		if !m.live(p.created, cur.ExpiresAt, now) {
			return cur, fmt.Errorf("%w: Lifetime reached", ErrSessionEnded)
		}
		vals, err := m.decodeValues(p.payload)
		if err != nil {
			return cur, err
		}
		s.applyChanges(vals)
		dl := m.deadline(p.created, now)
		data, err := m.encodeSession(p.created, vals)
		if err != nil {
			return cur, err
		}
		var out tier.Record
		if next.Version == 0 {
			out, err = m.store.Create(ctx, tier.Record{Key: next.Key, Data: data, ExpiresAt: dl})
		} else {
			out, err = m.store.Save(ctx, tier.Record{Key: next.Key, Version: next.Version, Data: data, ExpiresAt: dl})
		}
		if err != nil {
			return cur, fmt.Errorf("httpsession: writing the renewed session: %w", err)
		}
		next = out
		values, created = vals, p.created
		grace := m.opts.RenewGrace
		if grace < 0 {
			grace = time.Second // deleted right below; this bounds a failed delete
		}
		cur.Data = pointerData(next.Key)
		cur.ExpiresAt = ceilSecond(now.Add(grace))
		if dl.Before(cur.ExpiresAt) {
			cur.ExpiresAt = dl
		}
		return cur, nil
	})
	if err != nil {
		// Drop the copy, if one was made: no pointer names it. After an
		// unknown outcome the pointer may have landed, so the copy stays
		// (it expires on its own).
		if next.Version != 0 && !errors.Is(err, tier.ErrUnknownOutcome) {
			_ = m.store.Delete(ctx, next.Key, 0)
		}
		if errors.Is(err, tier.ErrNotFound) {
			return fmt.Errorf("%w: %w", ErrSessionEnded, err)
		}
		return fmt.Errorf("httpsession: renewing the session: %w", err)
	}
	if m.opts.RenewGrace < 0 {
		// No grace: the old token stops working now.
		if err := m.store.Delete(ctx, s.key, ptr.Version); err != nil && m.opts.Logger != nil {
			m.opts.Logger.WarnContext(ctx, "httpsession: deleting the replaced session record failed; it expires on its own", "err", err)
		}
	}
	s.key, s.via, s.values, s.created = next.Key, "", values, created
	s.stored(next)
	s.token, s.issue = tok, true
	m.stats.renewed.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.DebugContext(ctx, "httpsession: session renewed")
	}
	return nil
}

// Destroy ends r's session, as at logout: its record is deleted from the
// store (every node drops its copy through the store's bus) and the
// response clears the cookie. The request goes on with a fresh, empty
// session; values put after Destroy start a new session with a new token.
// A token Renew replaced within RenewGrace that led to this session stops
// working too. Destroy after the response started still ends the session;
// only the cookie cannot be cleared any more.
//
// Errors: ErrNoSession or a store error, in which case the session is
// unchanged.
func (m *Manager) Destroy(r *http.Request) error {
	s, err := m.sessionOf(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := m.writeContext(r.Context())
	defer cancel()
	if s.key != "" {
		// Whatever version is stored now: logging out wins over any
		// concurrent save.
		if err := m.store.Delete(ctx, s.key, 0); err != nil {
			return fmt.Errorf("httpsession: destroying the session: %w", err)
		}
		if s.via != "" {
			if err := m.store.Delete(ctx, s.via, 0); err != nil && m.opts.Logger != nil {
				m.opts.Logger.WarnContext(ctx, "httpsession: deleting a replaced token's pointer failed; it expires within RenewGrace", "err", err)
			}
		}
	}
	s.key, s.version, s.expiresAt, s.via = "", 0, time.Time{}, ""
	s.created = m.opts.Now().Truncate(time.Second)
	s.values, s.dirty = nil, nil
	s.token, s.adopt, s.issue, s.wrote = "", "", false, false
	s.clear = !s.started
	m.stats.destroyed.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.DebugContext(ctx, "httpsession: session destroyed")
	}
	return nil
}
