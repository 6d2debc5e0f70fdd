package httpsession

import (
	"errors"
	"fmt"
	"maps"
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
// A session tied to an owner (SetOwner) stays tied to it: the record that
// takes over is created for the same owner.
//
// Errors: ErrNoSession, ErrResponseStarted, ErrSessionEnded when the
// session ended meanwhile, an error matching tier.ErrConflict when another
// request renewed it first, or a store error. On error the session keeps
// its token.
func (m *Manager) Renew(r *http.Request) error { return m.renew(r, nil) }

// SetOwner ties r's session to owner, the application's user id, as at
// login, so that List shows it with meta (small data such as a device
// label; see remote.ValidMeta for the limits) and DestroyAll ends it. It
// renews the session as Renew does, since a login is a change of
// privilege: the session's values, with this request's changes, move to a
// record under a new token, created for owner; the response sets the new
// cookie. A session that is not stored yet is stored now. Call it before
// the response starts. A session's owner can change only this way, so a
// save never unties a session from its owner.
//
// The store sees a keyed hash of owner (see Options.OwnerKey), never owner
// itself; the session's own data holds owner, for Session.Owner and for
// Renew.
//
// Errors: those of Renew; ErrNoOwners without OwnerKey or a store with
// owners; an error matching tier.ErrInvalid for an empty or overlong owner
// or bad meta; one matching tier.ErrRevoked when DestroyAll for owner ran
// at the same moment (the session keeps its token and its former owner).
func (m *Manager) SetOwner(r *http.Request, owner string, meta map[string]string) error {
	if m.owners == nil {
		return ErrNoOwners
	}
	if owner == "" || len(owner) > maxOwnerLen {
		return fmt.Errorf("%w: httpsession: owner of %d bytes (1 to %d)", tier.ErrInvalid, len(owner), maxOwnerLen)
	}
	return m.renew(r, &owned{owner: owner, meta: maps.Clone(meta)})
}

// ownerID is the owner id the store indexes owner's sessions under.
func (m *Manager) ownerID(owner string) string { return tier.HashOwner(m.opts.OwnerKey, owner) }

// renew is Renew, and SetOwner when set is not nil: the new record is
// created for set's owner instead of the session's.
func (m *Manager) renew(r *http.Request, set *owned) error {
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
		if set != nil {
			return m.storeOwned(r, s, tok, *set)
		}
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
	var own owned
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
		o := p.owned
		if set != nil {
			o = *set
		}
		if next.Version != 0 && o.owner != own.owner {
			// A retry found another owner than the copy was made for:
			// make the copy again, for that owner.
			_ = m.store.Delete(ctx, next.Key, 0)
			next = tier.Record{Key: next.Key}
		}
		data, err := m.encodeSession(p.created, o, vals)
		if err != nil {
			return cur, err
		}
		var out tier.Record
		if next.Version == 0 {
			rec := tier.Record{Key: next.Key, Data: data, ExpiresAt: dl}
			if o.owner != "" {
				// Fail closed: a session tied to an owner is never copied
				// to a record that DestroyAll could not reach.
				if m.owners == nil {
					return cur, ErrNoOwners
				}
				rec.Owner, rec.Meta = m.ownerID(o.owner), o.meta
			}
			out, err = m.store.Create(ctx, rec)
		} else {
			out, err = m.store.Save(ctx, tier.Record{Key: next.Key, Version: next.Version, Data: data, ExpiresAt: dl})
		}
		if err != nil {
			return cur, fmt.Errorf("httpsession: writing the renewed session: %w", err)
		}
		next = out
		values, created, own = vals, p.created, o
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
	s.key, s.via, s.values, s.created, s.owned = next.Key, "", values, created, own
	s.stored(next)
	s.token, s.issue = tok, true
	m.stats.renewed.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.DebugContext(ctx, "httpsession: session renewed")
	}
	return nil
}

// storeOwned is SetOwner for a session not stored yet: it is stored now,
// under tok, tied to o. Caller holds s.mu.
func (m *Manager) storeOwned(r *http.Request, s *Session, tok string, o owned) error {
	ctx, cancel := m.writeContext(r.Context())
	defer cancel()
	now := m.opts.Now()
	dl := m.deadline(s.created, now)
	if !dl.After(now) {
		return fmt.Errorf("%w: Lifetime reached", ErrSessionEnded)
	}
	data, err := m.encodeSession(s.created, o, s.values)
	if err != nil {
		return err
	}
	prevToken, prevAdopt, prevOwned := s.token, s.adopt, s.owned
	// Never an adopted token: a login gets a token the server issues.
	s.token, s.adopt, s.owned = tok, "", o
	if err := s.createLocked(ctx, data, dl, now); err != nil {
		s.token, s.adopt, s.owned = prevToken, prevAdopt, prevOwned
		return err
	}
	m.stats.renewed.Add(1)
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
	s.values, s.dirty, s.owned = nil, nil, owned{}
	s.token, s.adopt, s.issue, s.wrote = "", "", false, false
	s.clear = !s.started
	m.stats.destroyed.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.DebugContext(ctx, "httpsession: session destroyed")
	}
	return nil
}
