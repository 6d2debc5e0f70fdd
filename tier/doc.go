// Package tier is the session store users call: an in-process local tier
// (package local) in front of a remote source of truth (package remote),
// kept coherent across nodes by an invalidation bus (package invalidation)
// and measured by package metrics.
//
// # Read path
//
// Get looks in the local tier first; a hit costs no allocation and no
// remote call. On a miss, concurrent callers for one key share one remote
// read (singleflight). That read runs detached from the caller that
// started it, bounded by Options.LoadTimeout, so one caller giving up does
// not fail the others; every caller still returns when its own context
// ends. "Not found" is cached for Options.NegativeTTL, so random or forged
// keys cannot turn into one remote read each.
//
// What a remote call brings back goes into the local tier only if nothing
// changed the key on this node while the call was in flight (a write, a
// conflict, a dropped copy, a bus event, another read's answer), and only
// if it is newer than the local copy; otherwise the local copies older
// than it are dropped. The check and the install are one step under a
// per-key lock, so no answer the Store gives is ever followed by an older
// one (see changes.go for the argument).
//
// # Overload and failure
//
// At most Options.MaxConcurrentLoads remote reads run at once; past that
// a miss fails fast with ErrUnavailable. After Options.BreakerFailures
// failed reads in a row a circuit breaker (sony/gobreaker) opens and
// misses fail fast until a probe succeeds. With Options.StaleIfError, a
// miss that cannot be answered — remote error, LoadTimeout, open breaker,
// load limit, or the caller's deadline 90% spent — gets the recent local
// copy instead, if there is one; each such answer is counted.
//
// # Write path
//
// Create, Save, Delete, Touch and Update write to the remote first, with a
// version check; on success the new version goes into the local tier
// (under the rule above) and {key, version} onto the bus. A conflict drops
// the local copy and returns ErrConflict; Update reloads and retries, a
// bounded number of times. A write whose outcome is unknown (timeout,
// server error) drops the local copy and returns the error: it may have
// been applied, and the next read asks the remote.
//
// # The bus
//
// A Store with a Bus subscribes in the background: New waits at most
// Options.BusWait, so a node starts while Redis is down. Until the
// subscription is live the node sees other nodes' writes only through
// LocalTTL; when it comes up, and after every gap the bus reports, the
// local tier is purged (at most once per Options.MinPurgeInterval; later
// gaps are served by one deferred purge). BusLive and the
// tiersession_bus_connected gauge tell whether the subscription is live.
//
// # Guarantees
//
//   - Same node: read-your-writes while the written entry stays in the
//     local tier; after it leaves (capacity, LocalTTL, a bus purge) the next
//     read asks the remote, whose eventually consistent reads may lag.
//   - Other nodes: stale for at most the bus delay while the bus is up, and
//     at most Options.LocalTTL when events are lost; a node whose bus
//     subscription had a gap purges its local tier.
//   - No lost update, ever: every write is checked against the version in
//     the remote.
//
// # Owners: "your devices" and "log out everywhere"
//
// A session created with an Owner — the user's id, or better a keyed hash
// of it (HashOwner) — can be listed (List, with an opaque ID per session,
// SessionID), ended by that ID (End), and ended all at once, on every node
// (DestroyAll). The remote must have owners (remote.Owners; on DynamoDB,
// DynamoOptions.OwnerIndex).
//
// DestroyAll does not rest on the remote's owner index, which is
// eventually consistent: it raises the owner's revocation generation in
// the remote, and every session created under an older one is revoked
// from then on, listed or not; then it deletes what the index lists. A
// node compares an owned session's generation with its owner's whenever it
// loads or writes it, under the per-key lock every install takes (see
// changes.go), and drops its copies of an owner's sessions as soon as it
// learns of a higher generation: from its own DestroyAll, from the Revoked
// event of another node's, or from the remote, whose answer it trusts for
// Options.OwnerTTL (a bus gap forgets them all). A hit needs no check:
// owners.go argues why.
//
// Guarantees: once DestroyAll returns, the node that ran it serves no
// session of the owner created before it; other nodes stop within the bus
// delay, or within OwnerTTL + LocalTTL if the event is lost; a Create for
// the owner that overlaps DestroyAll fails with ErrRevoked, is revoked, or
// started after it. Costs: a node reads an owner's generation (one
// strongly consistent read, shared by the owner's loads) when it loads one
// of the owner's sessions and its last reading is older than OwnerTTL; an
// owned Create reads it twice, before and after its write; DestroyAll is
// one write, one index query and the deletes. Sessions without an owner
// cost nothing more.
//
// Records returned by Get share their Data with the local tier: treat it
// as read-only.
package tier
