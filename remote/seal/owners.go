package seal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tiersession/tiersession/remote"
)

// Owners. A Store passes the owner fields of a record (Owner, Meta,
// CreatedAt, Generation) through unsealed, and implements remote.Owners by
// forwarding to the inner store's. It implements remote.Owners whatever
// the inner store is, as remote.Dynamo does whether or not its owner index
// is set, since New returns one type: over an inner store without
// remote.Owners it is a store with owners off, and refuses them as the
// remote.Owners contract says (remote.ErrInvalid, before any request),
// owned Creates included.

// errNoOwners refuses the owner operations of a Store whose inner store has
// no remote.Owners.
var errNoOwners = fmt.Errorf("%w: seal: the inner store has no owners (remote.Owners)", remote.ErrInvalid)

// Generation implements remote.Owners: the inner store's Generation.
func (s *Store) Generation(ctx context.Context, owner string) (uint64, error) {
	if s.owners == nil {
		return 0, errNoOwners
	}
	return s.owners.Generation(ctx, owner)
}

// Revoke implements remote.Owners: the inner store's Revoke. Revocation
// changes no record, so nothing is sealed.
func (s *Store) Revoke(ctx context.Context, owner string) (uint64, error) {
	if s.owners == nil {
		return 0, errNoOwners
	}
	return s.owners.Revoke(ctx, owner)
}

// List implements remote.Owners: the inner store's List, each record
// opened as Get opens it. A record that fails to open with
// remote.ErrCorrupt (altered, sealed with a key the provider no longer
// knows, unsealed without AllowPlaintext) is left out and counted in
// Stats.Corrupt: no load can serve it, and failing the whole List over it
// would break the owner's "your devices" page, and the cleanup after a
// revocation, until it expires. Revocation does not depend on List, so
// such a record is revoked all the same. Any other error, such as a key
// provider's remote.ErrUnavailable, fails List.
func (s *Store) List(ctx context.Context, owner string) ([]remote.Record, error) {
	if s.owners == nil {
		return nil, errNoOwners
	}
	recs, err := s.owners.List(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, rec := range recs {
		opened, err := s.open(ctx, rec)
		switch {
		case errors.Is(err, remote.ErrCorrupt):
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, opened)
	}
	return out, nil
}

// checkOwner refuses, before any request, the owner fields of a record to
// be created that the inner store would refuse: Meta without an Owner, an
// Owner or Meta that remote.ValidOwner or remote.ValidMeta refuses, or an
// Owner at all when the inner store has no owners. Its errors never
// contain the owner.
func (s *Store) checkOwner(rec remote.Record) error {
	if rec.Owner == "" {
		if len(rec.Meta) > 0 {
			return fmt.Errorf("%w: seal: Meta without an Owner", remote.ErrInvalid)
		}
		return nil
	}
	if s.owners == nil {
		return errNoOwners
	}
	if err := remote.ValidOwner(rec.Owner); err != nil {
		return err
	}
	return remote.ValidMeta(rec.Meta)
}

// ownedSlack is the most room the owner fields can take from a record's
// Data: MaxDataSize less MaxOwnedDataSize for the longest owner with the
// largest meta. Both depend on the key alike, so any key gives it.
var ownedSlack = func() int {
	meta := make(map[string]string, remote.MaxMetaEntries)
	for i := range remote.MaxMetaEntries {
		meta[fmt.Sprintf("%02d", i)] = ""
	}
	meta["00"] = strings.Repeat("v", remote.MaxMetaSize-2*remote.MaxMetaEntries)
	const key = "k"
	return remote.MaxDataSize(key) - remote.MaxOwnedDataSize(key, strings.Repeat("o", remote.MaxOwnerLen), meta)
}()

// checkSize refuses Data larger than the record may hold, before sealing:
// compression must not admit a session that the inner store alone would
// refuse. That is remote.MaxDataSize(key) less what the owner fields take
// (remote.MaxOwnedDataSize): for Create, those of rec; for Put, those
// stored, which the caller need not pass, and which checkStoredOwner
// reads when they matter.
func checkSize(rec remote.Record, expected uint64) error {
	limit := remote.MaxDataSize(rec.Key)
	if expected == 0 {
		limit = remote.MaxOwnedDataSize(rec.Key, rec.Owner, rec.Meta)
	}
	if len(rec.Data) > limit {
		return tooLarge(len(rec.Data), limit)
	}
	return nil
}

// checkStoredOwner refuses a Put of rec, sealed to sealedLen bytes, whose
// Data exceeds what the stored record's owner fields leave it. Only Data
// within ownedSlack of MaxDataSize can, so only then does it read the
// stored record: one more request, for sessions of nearly 400 KB. A sealed
// item too large even without owner fields is left to the inner store,
// which refuses it before any request.
func (s *Store) checkStoredOwner(ctx context.Context, rec remote.Record, sealedLen int) error {
	limit := remote.MaxDataSize(rec.Key)
	if s.owners == nil || len(rec.Data) <= limit-ownedSlack || sealedLen > limit {
		return nil
	}
	get := s.inner.Get
	if s.consistent != nil {
		get = s.consistent.GetConsistent
	}
	stored, found, err := get(ctx, rec.Key) // sealed: only its owner fields are used
	if err != nil {
		return fmt.Errorf("seal: reading the stored record's owner fields: %w", err)
	}
	if !found || stored.Owner == "" {
		return nil // the inner Put decides (ErrNotFound, ErrConflict, ...)
	}
	if limit = remote.MaxOwnedDataSize(rec.Key, stored.Owner, stored.Meta); len(rec.Data) > limit {
		return tooLarge(len(rec.Data), limit)
	}
	return nil
}

func tooLarge(n, limit int) error {
	return fmt.Errorf("%w: seal: %d bytes of Data exceed the %d a record may hold", remote.ErrTooLarge, n, limit)
}
