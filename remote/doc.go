// Package remote is the source-of-truth tier of tiersession: the Store
// interface, a DynamoDB implementation (aws-sdk-go-v2), an in-memory
// implementation with the same semantics, and (in remotetest) the
// conformance suite every implementation passes.
//
// The remote tier knows nothing about caching, tokens or HTTP. It stores
// Records under opaque storage keys (tiersession derives them as SHA-256 of
// the session token) and guards every write with a version check, so two
// writers can never both win against the same version.
//
// # Trade-offs
//
// DynamoDB stores expiry in whole epoch seconds (its TTL attribute), so
// ExpiresAt is truncated to the second on every write and reads treat a
// record whose ExpiresAt is at or before now as absent: DynamoDB's own TTL
// sweeper deletes expired items lazily, up to days later.
//
// Writes that time out or fail with a server error may still have been
// applied. Every write carries a random write id stored on the item; when a
// retry of that write fails its condition, the store reads the item the
// condition check returned and, if it holds the expected next version and
// the same write id, reports success rather than a conflict. A write whose
// outcome cannot be settled that way returns an error matching
// ErrUnknownOutcome. A write that was never sent, because its context ended
// first, is certain to have changed nothing and returns ErrUnavailable with
// the context's error instead.
//
// Storage keys must be valid UTF-8 and at most MaxKeySize bytes (see
// ValidKey): DynamoDB's encoding would otherwise merge keys that differ
// only in invalid bytes.
package remote
