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
// ends. The result is installed locally only if it is newer than what the
// local tier holds by then, so a slow read never overwrites a newer write;
// and if the key changed on this node while the read was in flight (a
// write, a dropped copy, a bus event), the read answers the callers that
// were waiting but caches nothing, and later misses start a new read.
// "Not found" is cached for Options.NegativeTTL, so random or forged keys
// cannot turn into one remote read each.
//
// # Write path
//
// Create, Save, Delete, Touch and Update write to the remote first, with a
// version check; on success the new version goes into the local tier and
// {key, version} onto the bus. A conflict drops the local copy and returns
// ErrConflict; Update reloads and retries, a bounded number of times. A
// write whose outcome is unknown (timeout, server error) drops the local
// copy and returns the error: it may have been applied, and the next read
// asks the remote.
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
// Records returned by Get share their Data with the local tier: treat it
// as read-only.
package tier
