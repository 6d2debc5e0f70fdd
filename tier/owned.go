package tier

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
)

// errNoOwners refuses the owner operations of a Store whose remote has no
// owners.
var errNoOwners = fmt.Errorf("%w: the remote store has no owners (remote.Owners)", ErrInvalid)

// Owned is one of an owner's sessions, as List returns it.
type Owned struct {
	// ID names the session without revealing its storage key, let alone
	// its token: SessionID(Key). It is what a "your devices" page shows
	// and sends back to End.
	ID string
	// Record is the session as stored, owner fields included. Its Key is
	// the storage key: keep it on the server.
	Record
}

// sessionIDContext separates SessionID's hashes from any other hash of a
// storage key.
const sessionIDContext = "tiersession session id v1\x00"

// SessionID returns the opaque id of the session stored under key: the
// first 128 bits of SHA-256 over a context string and the key, base64url
// (22 bytes). It can be shown to the session's owner and travel in a form:
// nobody can derive the storage key (let alone the token) from it, and it
// ends a session only through End, which checks the owner.
func SessionID(key string) string {
	h := sha256.New()
	h.Write([]byte(sessionIDContext))
	h.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// HashOwner returns a pseudonymous owner id for owner, the application's
// user id: a keyed hash, see remote.HashOwner.
func HashOwner(key []byte, owner string) string { return remote.HashOwner(key, owner) }

// List returns the live sessions of owner, oldest first, for a "your
// devices" page. It reads the remote's owner index, which is eventually
// consistent: a session created a moment ago may be missing. Revoked
// sessions the index still names are left out, and deleted.
func (s *Store) List(ctx context.Context, owner string) ([]Owned, error) {
	o, err := s.ownersFor(owner)
	if err != nil {
		return nil, err
	}
	recs, err := o.List(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("tier: listing the owner's sessions: %w", err)
	}
	// Read after the records, so that one revoked meanwhile is left out.
	gen, err := s.ownerGeneration(ctx, owner, true)
	if err != nil {
		return nil, fmt.Errorf("tier: reading the owner's generation: %w", err)
	}
	out := make([]Owned, 0, len(recs))
	for _, r := range recs {
		if r.Generation < gen {
			s.dropRevoked(ctx, r)
			continue
		}
		out = append(out, Owned{ID: SessionID(r.Key), Record: r})
	}
	return out, nil
}

// End ends the session of owner whose ID (see SessionID) is id, as Delete
// would, on every node. It fails with ErrNotFound when List does not show
// such a session for owner: an id alone, or another owner's, ends nothing.
func (s *Store) End(ctx context.Context, owner, id string) error {
	sessions, err := s.List(ctx, owner)
	if err != nil {
		return err
	}
	for _, o := range sessions {
		if o.ID == id {
			return s.Delete(ctx, o.Key, 0)
		}
	}
	return fmt.Errorf("%w: the owner has no session with that id", ErrNotFound)
}

// DestroyAll ends every session of owner, on every node: "log out
// everywhere". It raises the owner's generation in the remote (one small
// write, however many sessions), so that every session created before is
// revoked: no node serves it from then on, whether or not the owner index
// lists it yet. Then it drops this node's copies, tells the other nodes
// (a Revoked event on the bus), and deletes the records the index lists.
//
// It returns once the generation is raised; the deletion after that is
// cleanup, best effort (failures are counted in OwnerStats): a revoked
// record left behind is deleted by the first load that finds it, or
// expires. Other nodes stop serving the owner's sessions when the event
// reaches them: within the bus delay, or within OwnerTTL + LocalTTL if it
// is lost. A Create for owner that overlaps DestroyAll either fails with
// ErrRevoked, or is revoked, or started after it.
//
// An error matching ErrUnknownOutcome means the generation may or may not
// have been raised: call it again (raising it twice is harmless).
func (s *Store) DestroyAll(ctx context.Context, owner string) error {
	o, err := s.ownersFor(owner)
	if err != nil {
		return err
	}
	known := s.owners.now()
	gen, err := o.Revoke(ctx, owner)
	if err != nil {
		return fmt.Errorf("tier: revoking the owner's sessions: %w", err)
	}
	s.owners.stats.destroyAll.Add(1)
	s.learn(owner, gen, known)
	s.publish(ctx, invalidation.Event{Key: owner, Version: gen, Kind: invalidation.Revoked})
	recs, err := o.List(ctx, owner)
	if err != nil {
		s.owners.stats.cleanupErrors.Add(1)
		return nil
	}
	for _, r := range recs {
		if r.Generation >= gen {
			continue // created after the Revoke
		}
		// Conditional: a record saved since stays, revoked, until a load
		// finds it.
		if err := s.Delete(ctx, r.Key, r.Version); err != nil && !errors.Is(err, ErrConflict) {
			s.owners.stats.cleanupErrors.Add(1)
		}
	}
	return nil
}

// ownersFor checks an owner operation and returns the remote's owners.
func (s *Store) ownersFor(owner string) (remote.Owners, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if s.owners.remote == nil {
		return nil, errNoOwners
	}
	if err := remote.ValidOwner(owner); err != nil {
		return nil, err
	}
	return s.owners.remote, nil
}

// settleLoad settles a remote read of key, stamp st, that found rec or
// nothing (see settleRead), and returns what the callers get. An owned
// record is first compared with its owner's generation: a revoked one is
// not found, and is deleted.
func (s *Store) settleLoad(ctx context.Context, key string, st stamp, rec Record, found bool) (Record, bool, error) {
	var gen uint64
	if found && rec.Owner != "" {
		var err error
		if gen, err = s.ownerGeneration(ctx, rec.Owner, false); err != nil {
			return Record{}, false, err
		}
	}
	if found && rec.Generation < gen || s.settleRead(key, st, rec, found, gen) {
		s.dropRevoked(ctx, rec)
		return Record{}, false, nil
	}
	return plain(rec), found, nil
}

// dropRevoked handles a revoked record that a load, a write or List came
// across: out of the local tier, remembered as absent (no slower read
// brings that version back), and deleted from the remote, best effort.
func (s *Store) dropRevoked(ctx context.Context, rec Record) {
	s.owners.stats.revokedFound.Add(1)
	s.change(rec.Key, func() {
		s.local.Remove(rec.Key)
		s.local.InstallNotFound(rec.Key, rec.Version)
	})
	_ = s.remote.Delete(ctx, rec.Key, rec.Version)
}

// plain returns rec without its owner fields, as Get returns records: the
// local tier keeps none, and a hit and a miss answer alike.
func plain(rec Record) Record {
	return Record{Key: rec.Key, Data: rec.Data, Version: rec.Version, ExpiresAt: rec.ExpiresAt}
}

// OwnerStats counts a Store's work for owners since New.
type OwnerStats struct {
	// GenerationReads counts owners' generations read from the remote
	// (strongly consistent reads): at most one per owner per OwnerTTL
	// while its sessions are loaded, plus one per List.
	GenerationReads uint64
	// RevokedFound counts revoked sessions that a load, a write or List
	// found in the remote, each answered as not found and deleted.
	RevokedFound uint64
	// Evicted counts local copies dropped because their owner's
	// generation went up.
	Evicted uint64
	// RevokedReceived counts Revoked events received from other nodes.
	RevokedReceived uint64
	// DestroyAll counts DestroyAll calls that raised a generation;
	// CleanupErrors counts the failures to list or delete the records
	// they revoked.
	DestroyAll, CleanupErrors uint64
}

// OwnerStats returns the Store's owner counters now.
func (s *Store) OwnerStats() OwnerStats {
	c := &s.owners.stats
	return OwnerStats{
		GenerationReads: c.generationReads.Load(),
		RevokedFound:    c.revokedFound.Load(),
		Evicted:         c.evicted.Load(),
		RevokedReceived: c.revokedReceived.Load(),
		DestroyAll:      c.destroyAll.Load(),
		CleanupErrors:   c.cleanupErrors.Load(),
	}
}
