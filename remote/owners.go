package remote

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"unicode/utf8"
)

// Owners is an optional ability of a Store, detected at run time like
// ConsistentGetter: sessions tied to an owner (Record.Owner), listed by
// owner, and revoked all at once — "log out everywhere". *Memory has it,
// and *Dynamo when DynamoOptions.OwnerIndex is set.
//
// # Revocation by generation
//
// Every owner has a generation: 0 until the first Revoke, then raised by
// one by each Revoke, never lowered. Create records the owner's current
// generation in Record.Generation. A record whose Generation is below its
// owner's current generation is revoked: whoever serves sessions treats it
// as not found (tier.Store does, and deletes it). Revoke itself changes no
// session record, so it is one small write however many sessions the
// owner has, and it reaches the sessions that an index would show only
// later: the owner index is eventually consistent, and a session created
// a moment before Revoke may not be in it yet.
//
// Get, GetConsistent, Put and Touch return revoked records like any other:
// checking the owner's generation would cost a read on every call, and the
// tier above keeps the generations it has read in memory instead.
//
// # Contract
//
// Kept by every implementation and checked by remotetest:
//
//   - Generation returns the owner's current generation, never an older
//     one (on DynamoDB, a strongly consistent read).
//   - Revoke raises the generation by one and returns the new value; every
//     record of the owner created before is revoked from then on. A Revoke
//     whose response was lost and that was retried raises it once.
//   - Create of an owned record reads the owner's generation, writes the
//     record with it, then reads the generation again. If a Revoke came in
//     between, the record is deleted (best effort: if that fails it stays,
//     revoked) and Create fails with ErrRevoked. A Create that succeeds
//     returns a record that was not revoked at its second read; one that
//     overlaps a Revoke either fails, or carries the generation Revoke set
//     (it read the generation after Revoke), or is revoked by it. In no
//     case does a Create that read the older generation leave a record
//     that is not revoked.
//   - List returns the owner's live records (not expired, not deleted) as
//     the owner index shows them, with their Data, ordered by CreatedAt
//     then Key. The index is eventually consistent (on DynamoDB a global
//     secondary index): a record created a moment ago may be missing. List
//     includes revoked records; compare their Generation with the owner's.
//   - Every method refuses an owner that ValidOwner refuses with
//     ErrInvalid, before any request; on a store without owners every
//     method fails with ErrInvalid.
//
// The store keeps the owner id as it is given: it is the index's key, so
// anyone who can read the table can group sessions by owner. Callers that
// hold user ids such as e-mail addresses pass a keyed hash (HashOwner)
// instead; httpsession does.
type Owners interface {
	// Generation returns owner's current revocation generation.
	Generation(ctx context.Context, owner string) (uint64, error)
	// Revoke raises owner's generation, revoking every record of owner
	// created before, and returns the new generation.
	Revoke(ctx context.Context, owner string) (uint64, error)
	// List returns owner's live records as the owner index shows them.
	List(ctx context.Context, owner string) ([]Record, error)
}

// Limits on the owner fields of a Record. They keep the owner attributes of
// an item under 1 KB, so a session's room for Data barely changes.
const (
	// MaxOwnerLen is the longest Record.Owner, in bytes. HashOwner's ids
	// are 43 bytes.
	MaxOwnerLen = 128
	// MaxMetaEntries is how many entries Record.Meta may hold.
	MaxMetaEntries = 16
	// MaxMetaSize bounds Record.Meta: the sum of the lengths of its keys
	// and values, in bytes.
	MaxMetaSize = 512
)

// ValidOwner returns nil if owner is acceptable as Record.Owner and as the
// owner argument of Owners' methods, and an error matching ErrInvalid
// otherwise: empty, longer than MaxOwnerLen bytes, or not valid UTF-8
// (DynamoDB would merge owners that differ only in invalid bytes, as it
// would keys; see ValidKey). The error never contains the owner.
func ValidOwner(owner string) error {
	switch {
	case owner == "":
		return fmt.Errorf("%w: empty owner", ErrInvalid)
	case len(owner) > MaxOwnerLen:
		return fmt.Errorf("%w: owner of %d bytes (at most %d)", ErrInvalid, len(owner), MaxOwnerLen)
	case !utf8.ValidString(owner):
		return fmt.Errorf("%w: owner is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// ValidMeta returns nil if meta is acceptable as Record.Meta, and an error
// matching ErrInvalid otherwise: more than MaxMetaEntries entries, keys and
// values longer than MaxMetaSize bytes together, an empty key, or a key or
// value that is not valid UTF-8. A nil or empty map is valid.
func ValidMeta(meta map[string]string) error {
	if len(meta) > MaxMetaEntries {
		return fmt.Errorf("%w: meta of %d entries (at most %d)", ErrInvalid, len(meta), MaxMetaEntries)
	}
	size := 0
	for k, v := range meta {
		switch {
		case k == "":
			return fmt.Errorf("%w: meta has an empty key", ErrInvalid)
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return fmt.Errorf("%w: meta holds a key or value that is not valid UTF-8", ErrInvalid)
		}
		size += len(k) + len(v)
	}
	if size > MaxMetaSize {
		return fmt.Errorf("%w: meta of %d bytes (at most %d)", ErrInvalid, size, MaxMetaSize)
	}
	return nil
}

// checkOwner validates the owner fields of a record about to be created.
func checkOwner(rec Record) error {
	if rec.Owner == "" {
		if len(rec.Meta) > 0 {
			return fmt.Errorf("%w: Meta without an Owner", ErrInvalid)
		}
		return nil
	}
	if err := ValidOwner(rec.Owner); err != nil {
		return err
	}
	return ValidMeta(rec.Meta)
}

// ownerHashContext separates HashOwner's MACs from any other use of the key.
const ownerHashContext = "tiersession owner v1\x00"

// HashOwner returns a pseudonymous owner id for owner, the application's
// user id: base64url (no padding) of HMAC-SHA256 under key, 43 bytes. The
// store then holds no user id in clear, and without the key nobody can
// tell whose sessions an id groups (an unkeyed hash of an e-mail address
// can be reversed by hashing guesses). Use one key for every node that
// shares a table, and keep it: sessions created under another key are not
// found by the ids of this one.
func HashOwner(key []byte, owner string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ownerHashContext))
	mac.Write([]byte(owner))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// generationKey is the storage key of the item that holds owner's
// revocation generation. ValidKey refuses it, so no Store method reaches
// it, and it carries neither the owner attribute (it is not in the owner
// index) nor an expiry (it is never swept by TTL: a generation that went
// back to 0 would revive revoked sessions).
func generationKey(owner string) string { return ReservedPrefix + "owner/" + owner }

// ownerItemSize is the size DynamoDB counts for the owner attributes of an
// item (numbers at their maximum); 0 for a record without owner.
func ownerItemSize(owner string, meta map[string]string) int {
	if owner == "" {
		return 0
	}
	n := len(attrOwner) + len(owner) +
		len(attrOwnerGen) + maxNumberSize +
		len(attrCreated) + maxNumberSize
	if len(meta) > 0 {
		// A map costs 3 bytes, plus per entry its name, its value and 1.
		n += len(attrMeta) + 3
		for k, v := range meta {
			n += len(k) + len(v) + 1
		}
	}
	return n
}

// MaxOwnedDataSize is the largest Data a record stored under key with
// owner and meta may hold: MaxDataSize(key) less the owner attributes.
func MaxOwnedDataSize(key, owner string, meta map[string]string) int {
	return MaxDataSize(key) - ownerItemSize(owner, meta)
}

// cloneMeta copies meta; nil for an empty one.
func cloneMeta(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	return maps.Clone(meta)
}
