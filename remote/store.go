package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one session as the remote tier stores it.
type Record struct {
	// Key is the storage key. tiersession derives it from the session
	// token (base64url of SHA-256); the raw token is never stored.
	Key string
	// Data is the session payload. Stores neither keep nor modify the
	// caller's slice after a call returns; Records they return own their
	// Data.
	Data []byte
	// Version is 1 after Create and grows by exactly 1 on every successful
	// Put. It is the only concurrency control. Touch does not change it.
	Version uint64
	// ExpiresAt is absolute and stored in whole seconds: writes truncate
	// it to the second. A record is absent from the moment ExpiresAt <= now.
	ExpiresAt time.Time

	// The fields below tie a session to its owner (see Owners). They are
	// set by Create and never change afterwards: Put and Touch keep what
	// is stored, whatever the record they are given says. A record
	// without an Owner has none of them, and its item pays nothing for
	// them.

	// Owner names the user the session belongs to, "" for none. It is an
	// opaque id (see ValidOwner) that the store keeps as given and
	// indexes, so pass a pseudonym such as HashOwner's rather than an
	// e-mail address. A store with owners off refuses it (ErrInvalid).
	Owner string
	// Meta is small application data about an owned session that List
	// shows, such as a device label (limits: ValidMeta). Nil without an
	// Owner. Stores neither keep nor modify the caller's map; Records
	// they return own theirs.
	Meta map[string]string
	// CreatedAt is when an owned record was created, in whole seconds,
	// set by the store. Zero without an Owner.
	CreatedAt time.Time
	// Generation is the owner's revocation generation at the record's
	// creation, set by the store; 0 without an Owner. Once the owner's
	// generation is higher (Owners.Revoke), the record is revoked.
	Generation uint64
}

// MaxKeySize is the longest storage key, in bytes, a Store accepts.
// DynamoDB allows partition keys of up to 2048 bytes; tiersession's keys
// are 43 bytes (base64url of SHA-256), so a key near either limit is a
// caller's bug.
const MaxKeySize = 1024

// ReservedPrefix starts the keys of the items a store keeps for itself
// (an owner's revocation generation, see Owners). ValidKey refuses keys
// with it, so no caller can read, overwrite or delete those items through
// the Store methods. tiersession's keys (base64url) never start with '~'.
const ReservedPrefix = "~tiersession/"

// ValidKey returns nil if key is acceptable as a storage key, and an
// error matching ErrInvalid otherwise: an empty key, one longer than
// MaxKeySize bytes, one that is not valid UTF-8, or one that starts with
// ReservedPrefix. Every Store method that takes a key checks it with
// ValidKey before any request; callers may use it to refuse a key early.
// The error never contains the key.
//
// Keys must be valid UTF-8 because DynamoDB's string type is UTF-8 and the
// SDK's JSON encoding replaces each invalid byte with U+FFFD: "user\xff",
// "user\xfe" and "user\uFFFD" would all name one item, and one caller
// could read or overwrite another's session.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes (at most %d)", ErrInvalid, len(key), MaxKeySize)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalid)
	case strings.HasPrefix(key, ReservedPrefix):
		return fmt.Errorf("%w: key starts with the reserved prefix %q", ErrInvalid, ReservedPrefix)
	}
	return nil
}

// Expired reports whether r is expired at now.
func (r Record) Expired(now time.Time) bool { return !r.ExpiresAt.After(now) }

// Store is the source-of-truth tier.
//
// Contract, kept by every implementation and checked by the suite in
// remotetest:
//
//   - A missing key and an expired record (ExpiresAt <= now) are the same
//     thing: Get returns found=false and a nil error; Put and Touch return
//     ErrNotFound; Create succeeds over an expired record.
//   - Create writes Version 1 and fails with ErrConflict when a live record
//     holds the key.
//   - Put(rec, expected) succeeds only when the stored version equals
//     expected, and stores rec as version expected+1. A mismatch returns an
//     error matching ErrConflict that unwraps to *ConflictError with the
//     current version. Put with expected 0 is ErrInvalid (use Create).
//   - Of any number of concurrent writers holding the same expected
//     version, exactly one succeeds.
//   - Delete(key, 0) deletes unconditionally; Delete(key, v) only when the
//     stored version is v (ErrConflict otherwise). Deleting an absent key
//     is not an error.
//   - Touch moves ExpiresAt later without changing Data or Version; a
//     Touch to an earlier time than the stored one succeeds and changes
//     nothing.
//   - Every method that takes a key (Get, GetConsistent, Create, Put,
//     Touch, Delete) refuses a key that ValidKey refuses (empty, longer
//     than MaxKeySize bytes, not valid UTF-8, reserved) with ErrInvalid,
//     before any request. So two keys never name one stored record.
//   - A record whose encoded item would exceed MaxItemSize fails with
//     ErrTooLarge before any network call; an unowned record's Data may
//     hold MaxDataSize(key) bytes. The one exception is a Put to an owned
//     record, whose stored owner attributes the caller need not pass: its
//     size is checked by the backend, with the same error, and nothing is
//     written. An empty or non-future ExpiresAt fails with ErrInvalid.
//   - Owner, Meta, CreatedAt and Generation are Create's to set (see
//     Record and Owners); Put and Touch return the stored ones. A store
//     that implements Owners refuses, with ErrInvalid before any request,
//     a Create with an Owner while its owners are off, and one with Meta
//     and no Owner. A store without Owners need not know the owner fields
//     at all: tier.Store never hands it an owned record.
//   - A stored item that does not decode gives ErrCorrupt, never a panic
//     or a zero Record.
//   - A write whose context ended before its request was sent returns an
//     error matching both the context's error and ErrUnavailable (nothing
//     was written), never ErrUnknownOutcome, and changes nothing. A write
//     whose context ends while its request is in flight returns the
//     context's error with ErrUnknownOutcome if it may have been applied
//     (with ErrUnavailable if the store knows it was not). A read whose
//     context ended returns the context's error.
//   - Errors are this package's sentinels (wrapped with %w) or context
//     errors; SDK error types never leave the package.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns the live record stored under key. found is false, with
	// a nil error, when the key is absent or its record expired.
	Get(ctx context.Context, key string) (rec Record, found bool, err error)
	// Create stores rec as version 1 (rec.Version is ignored) and returns
	// the stored record.
	Create(ctx context.Context, rec Record) (Record, error)
	// Put stores rec as version expected+1 if the stored version is
	// expected (rec.Version is ignored), and returns the stored record.
	Put(ctx context.Context, rec Record, expected uint64) (Record, error)
	// Delete removes key; if expected is not 0, only when the stored
	// version equals it.
	Delete(ctx context.Context, key string, expected uint64) error
	// Touch extends the record's expiry to expiresAt (never shortens it)
	// and returns the stored record.
	Touch(ctx context.Context, key string, expiresAt time.Time) (Record, error)
}

// ConsistentGetter is an optional ability of a Store whose Get may return a
// version that is shortly out of date (DynamoDB's eventually consistent
// reads). GetConsistent always returns the latest version, at a higher
// cost, with Get's contract otherwise. The tier uses it to reload a
// session after a version conflict, where a stale read would only conflict
// again. Stores whose Get is always current implement it as Get.
type ConsistentGetter interface {
	GetConsistent(ctx context.Context, key string) (rec Record, found bool, err error)
}

// MaxItemSize is DynamoDB's limit on one item: 400 KB, counting attribute
// names and values.
const MaxItemSize = 400 * 1024

// Errors callers act on. Every error a Store returns that is not a context
// error matches one of these with errors.Is.
var (
	// ErrNotFound: the key is absent or its record expired.
	ErrNotFound = errors.New("remote: not found")
	// ErrConflict: a version check failed. errors.As with *ConflictError
	// gives the current version.
	ErrConflict = errors.New("remote: version conflict")
	// ErrTooLarge: the encoded item would exceed MaxItemSize.
	ErrTooLarge = errors.New("remote: item too large")
	// ErrCorrupt: a stored item does not decode into a Record.
	ErrCorrupt = errors.New("remote: corrupt item")
	// ErrInvalid: the arguments are not acceptable (a key ValidKey
	// refuses, an expiry not in the future).
	ErrInvalid = errors.New("remote: invalid argument")
	// ErrUnknownOutcome: a write failed in a way that leaves unknown
	// whether it was applied (timeout, server error), and retries could
	// not settle it.
	ErrUnknownOutcome = errors.New("remote: write outcome unknown")
	// ErrUnavailable: the backend could not be reached or refused the
	// request for a reason other than the above (throttling, auth, ...).
	ErrUnavailable = errors.New("remote: unavailable")
	// ErrRevoked: the owner's sessions were revoked (Owners.Revoke) while
	// a Create of an owned record ran; the record was not created (or was
	// deleted again, or is revoked).
	ErrRevoked = errors.New("remote: owner's sessions revoked meanwhile")
)

// ConflictError describes a failed version check. It matches ErrConflict.
type ConflictError struct {
	// Expected is the version the caller expected; 0 for Create.
	Expected uint64
	// Current is the stored version; 0 when the key is absent.
	Current uint64
}

func (e *ConflictError) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("remote: version conflict: expected %d, record absent", e.Expected)
	}
	return fmt.Sprintf("remote: version conflict: expected %d, stored %d", e.Expected, e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
