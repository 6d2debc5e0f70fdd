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
//
// # Owners
//
// A record may carry an owner (Record.Owner): the id of the user it
// belongs to, with a little metadata (Record.Meta) such as a device label.
// Stores with the optional Owners ability — *Memory, and *Dynamo with
// DynamoOptions.OwnerIndex — list an owner's records and revoke them all
// at once, for a "your devices" page and "log out everywhere". On DynamoDB
// the owner is the key of a sparse, KEYS_ONLY global secondary index that
// EnsureTable creates: records without an owner carry no owner attribute,
// stay out of the index and cost nothing more. The store keeps the owner
// id it is given, in clear, since it is the index's key: pass a keyed hash
// (HashOwner) rather than the user id, as httpsession does.
//
// Revocation does not rest on the index, which is eventually consistent
// and may not list a record created a moment ago. Each owner has a
// generation, a counter in an item of its own that Revoke raises; every
// owned record is created with the generation it read, and a record
// created under a lower generation than its owner's is revoked, listed or
// not. The owner attributes are written by Create only: Put (an UpdateItem
// of the data, version, expiry and write id) and Touch keep them, so no
// save can untie a session from its owner. See Owners for the contract.
package remote
