package remote

import (
	"crypto/rand"
	"fmt"
	"time"
)

// writeIDLen is the length of the random id stored with every write.
const writeIDLen = 16

// writeID identifies one logical write across the retries of it.
type writeID [writeIDLen]byte

func newWriteID() writeID {
	var id writeID
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(id[:])
	return id
}

// Attribute names of the stored item, shared by every implementation so
// that size accounting agrees.
const (
	attrKey     = "pk"
	attrVersion = "ver"
	attrExpires = "exp"
	attrData    = "data"
	attrWriteID = "wid"

	// Written only on owned records (see Owners): the owner id (the
	// owner index's key), the owner's generation at creation, the
	// creation time in epoch seconds, and Meta (a map of strings).
	attrOwner    = "own"
	attrOwnerGen = "ogen"
	attrCreated  = "ct"
	attrMeta     = "meta"

	// The generation item's counter (see generationKey); its write id
	// goes in attrWriteID.
	attrGeneration = "gen"
)

// maxNumberSize is the most bytes DynamoDB counts for a number attribute
// value (38 significant digits).
const maxNumberSize = 21

// itemSize is the size DynamoDB counts for the item that stores a record
// with the given key and data length, rounded up (numbers at their maximum).
func itemSize(key string, dataLen int) int {
	return len(attrKey) + len(key) +
		len(attrVersion) + maxNumberSize +
		len(attrExpires) + maxNumberSize +
		len(attrData) + dataLen +
		len(attrWriteID) + writeIDLen
}

// MaxDataSize is the largest Data a record without owner stored under key
// may hold. An owned record holds less by the size of its owner
// attributes, under 1 KB (see MaxOwnedDataSize).
func MaxDataSize(key string) int { return MaxItemSize - itemSize(key, 0) }

// checkWrite validates a record about to be written at now, created when
// create is true, and returns its expiry in epoch seconds. It runs before
// any network call. A Create counts the owner attributes it writes; a Put
// does not know the stored ones (see Store: the backend checks them).
func checkWrite(rec Record, now time.Time, create bool) (exp int64, err error) {
	if err := ValidKey(rec.Key); err != nil {
		return 0, err
	}
	size := itemSize(rec.Key, len(rec.Data))
	if create {
		if err := checkOwner(rec); err != nil {
			return 0, err
		}
		size += ownerItemSize(rec.Owner, rec.Meta)
	}
	if size > MaxItemSize {
		return 0, fmt.Errorf("%w: item of %d bytes exceeds %d", ErrTooLarge, size, MaxItemSize)
	}
	return checkExpiry(rec.ExpiresAt, now)
}

// checkExpiry validates an expiry at now and returns it in epoch seconds.
func checkExpiry(expiresAt, now time.Time) (int64, error) {
	if expiresAt.IsZero() {
		return 0, fmt.Errorf("%w: zero ExpiresAt", ErrInvalid)
	}
	exp := expiresAt.Unix()
	if !isLive(exp, now) {
		return 0, fmt.Errorf("%w: ExpiresAt %s is not after now (whole seconds)", ErrInvalid, expiresAt.UTC().Format(time.RFC3339))
	}
	return exp, nil
}

// isLive reports whether an item expiring at epoch second exp is live at now.
func isLive(exp int64, now time.Time) bool { return time.Unix(exp, 0).After(now) }

// outcome is how a failed condition check settles, given the item the
// check failed against.
type outcome int

const (
	outcomeConflict outcome = iota // someone else's write: ErrConflict
	outcomeNotFound                // absent or expired: ErrNotFound
	outcomeOwnWrite                // our own earlier attempt landed: success
	outcomeUnknown                 // an earlier attempt may have landed and been overwritten: ErrUnknownOutcome
)

// settle decides a failed conditional write of version expected+1 carrying
// id, given what the store holds now (found=false when absent). It is the
// one place that tells "my retried write already landed" from a conflict.
//
// ambiguous reports that an earlier attempt of this write failed in a way
// that may have applied it (a lost response, a timeout). Then only two
// answers are certain: our own write id at expected+1 (it landed), or
// someone else's at expected+1 (only one write can take a record from
// expected to expected+1, so ours did not). Anything else — a later
// version, or no record — may be our write overwritten or deleted since,
// and is reported as unknown rather than as a conflict that might be false.
func settle(found, live bool, storedVer uint64, storedID []byte, expected uint64, id writeID, ambiguous bool) outcome {
	if found && storedVer == expected+1 && string(storedID) == string(id[:]) {
		return outcomeOwnWrite
	}
	if ambiguous && !(found && live && storedVer == expected+1) {
		return outcomeUnknown
	}
	if !found || !live {
		if expected == 0 {
			// Create failed while nothing live is there: only possible if
			// the record expired between the check and now; a retry is a
			// conflict from the caller's point of view.
			return outcomeConflict
		}
		return outcomeNotFound
	}
	return outcomeConflict
}
