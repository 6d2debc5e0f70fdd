package httpsession

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tiersession/tiersession/tier"
)

// SessionInfo is one of a user's sessions, as List shows it on a "your
// devices" page.
type SessionInfo struct {
	// ID names the session without revealing its token or storage key;
	// End takes it back. Session.ID gives the ID of the request's own
	// session, to mark "this device".
	ID string
	// CreatedAt is when the session was created; its Lifetime counts from
	// then.
	CreatedAt time.Time
	// LastSeen is about when the session last served a request:
	// ExpiresAt less the IdleTimeout, to within the store's TouchInterval.
	LastSeen time.Time
	// ExpiresAt is when the session ends unless it serves a request
	// before.
	ExpiresAt time.Time
	// Meta is what SetOwner was given with the owner.
	Meta map[string]string
}

// ownerIDs returns the owner ids the store may hold owner's sessions
// under: OwnerKey's, then PreviousOwnerKeys'.
func (m *Manager) ownerIDs(owner string) []string {
	ids := []string{m.ownerID(owner)}
	for _, k := range m.opts.PreviousOwnerKeys {
		ids = append(ids, tier.HashOwner(k, owner))
	}
	return ids
}

// checkOwner refuses owner operations the Manager cannot do.
func (m *Manager) checkOwner(owner string) error {
	if m.owners == nil {
		return ErrNoOwners
	}
	if owner == "" || len(owner) > maxOwnerLen {
		return fmt.Errorf("%w: httpsession: owner of %d bytes (1 to %d)", tier.ErrInvalid, len(owner), maxOwnerLen)
	}
	return nil
}

// List returns the live sessions of owner (the user id SetOwner was given),
// oldest first (by CreatedAt, then ID). It reads the store's owner index, which is eventually
// consistent: a session created a moment ago may be missing. Sessions
// Renew replaced, still reachable within RenewGrace, are not shown apart
// from the one that took over.
func (m *Manager) List(ctx context.Context, owner string) ([]SessionInfo, error) {
	if err := m.checkOwner(owner); err != nil {
		return nil, err
	}
	now := m.opts.Now()
	var out []SessionInfo
	for _, id := range m.ownerIDs(owner) {
		sessions, err := m.owners.List(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("httpsession: listing the sessions: %w", err)
		}
		for _, o := range sessions {
			p, err := parseRecord(o.Data)
			if err != nil || p.successor != "" || !m.live(p.created, o.ExpiresAt, now) {
				continue // unreadable, a pointer, or past its Lifetime
			}
			out = append(out, SessionInfo{
				ID:        o.ID,
				CreatedAt: p.created,
				LastSeen:  o.ExpiresAt.Add(-m.opts.IdleTimeout),
				ExpiresAt: o.ExpiresAt,
				Meta:      maps.Clone(p.owned.meta),
			})
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// End ends the session of owner whose ID is id, as Destroy would from
// its own request: on every node at once. It fails with an error matching
// tier.ErrNotFound when List does not show such a session for owner, so
// an ID alone, or another user's, ends nothing. The ended session's next
// request gets a fresh session.
func (m *Manager) End(ctx context.Context, owner, id string) error {
	if err := m.checkOwner(owner); err != nil {
		return err
	}
	ctx, cancel := m.writeContext(ctx)
	defer cancel()
	for _, oid := range m.ownerIDs(owner) {
		err := m.owners.End(ctx, oid, id)
		if !errors.Is(err, tier.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("httpsession: ending the session: %w", err)
			}
			m.stats.destroyed.Add(1)
			return nil
		}
	}
	return fmt.Errorf("httpsession: the user has no session with that id: %w", tier.ErrNotFound)
}

// DestroyAll ends every session of owner, on every node: "log out
// everywhere", after a password change say. Sessions created before it
// returns, including those the store's owner index does not list yet,
// are never served again; one created while it runs may survive only if
// it was created after the revocation took effect (see
// tier.Store.DestroyAll, which also gives the delay with which other
// nodes learn of it). The request that calls it keeps its session unless
// that is owner's too: call Destroy as well to clear its cookie at once.
func (m *Manager) DestroyAll(ctx context.Context, owner string) error {
	if err := m.checkOwner(owner); err != nil {
		return err
	}
	ctx, cancel := m.writeContext(ctx)
	defer cancel()
	for _, id := range m.ownerIDs(owner) {
		if err := m.owners.DestroyAll(ctx, id); err != nil {
			return fmt.Errorf("httpsession: ending the user's sessions: %w", err)
		}
	}
	return nil
}
