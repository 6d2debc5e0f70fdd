// Package invalidation tells the other nodes of a tiersession deployment
// that a session changed, so that they drop their local copy before its
// TTL runs out.
//
// A tier.Store publishes an Event after each successful write to the
// source of truth and subscribes a Handler that evicts older local copies.
// Two buses implement Bus:
//
//   - Local, in process, for several stores in one process (tests,
//     benchmarks, single binaries);
//   - Redis, on Redis or Valkey pub/sub through go-redis v9, for a fleet.
//
// # What a bus guarantees
//
// Delivery is best effort: an event reaches each subscription once or not
// at all (a Redis pipeline retried after a network error may repeat one;
// invalidations are idempotent). Publish never waits for the network or
// for a handler: it queues the event and returns, and a full queue drops
// the event, counts it in Stats and returns ErrDropped. A lost event can
// only leave another node stale until its local TTL; versions checked
// against the source of truth prevent lost updates whatever the bus does.
//
// Every loss a subscriber can notice is reported by Handler.HandleGap: a
// lost connection (including Redis closing a subscriber whose output
// buffer overflowed), a re-established subscription (events published
// while it was down never reached it), a receive queue overflow (on
// Redis, only after the subscription waited RedisOptions.ReceiveWait for
// room, not reading Redis meanwhile, so that a burst the handler absorbs
// costs a delay instead of a purge). The
// handler answers a gap by purging what it cached, so missed events cannot
// keep it stale. A Handler that also implements StatusHandler learns when
// its subscription goes live and when it is lost. A message that does not
// decode or verify is not a gap: it is dropped and counted, so that
// whoever can write to the channel cannot make every node purge.
//
// The losses subscribers cannot notice happen at the publisher, which
// counts them in Stats.Dropped: its queue overflowing while Redis is slow
// or unreachable from it (failed sends are retried until then), or Close
// giving up on unsent events. The other nodes then stay stale at most
// until their local TTL.
//
// Buses deliver each event to every subscriber, the publisher's own
// subscription included; handlers skip their own events by comparing
// Event.Origin with their node id. A subscription's handler is called from
// one goroutine, in the order events arrived.
//
// # Message format
//
// Networked buses carry Events in a compact binary form (MarshalBinary):
//
//	byte    format version, 1
//	byte    kind: 1 changed, 2 touched, 3 deleted, 4 revoked
//	uvarint version
//	uvarint origin length (at most MaxOriginLen), then the origin
//	bytes   key, the rest of the message (1 to MaxKeyLen bytes)
//
// A decoder rejects anything else with ErrCorrupt, without panicking.
//
// # Authentication
//
// The Redis bus signs that encoding with HMAC-SHA256 under a shared
// secret (RedisOptions.Keys):
//
//	byte     2
//	byte     key id length, then the key id (Key.ID)
//	bytes    the event, as above
//	32 bytes HMAC-SHA256 over a fixed context string, the channel name
//	         and everything before the MAC
//
// The key id lets a deployment rotate keys without downtime: every node
// verifies with all its keys and signs with the first. A subscriber drops
// what does not decode (Stats.DecodeErrors) and what is unsigned, signed
// with an unknown key or wrongly signed (Stats.AuthFailures); neither is a
// gap. A deployment without keys must say so (RedisOptions.Insecure); it
// sends the bare encoding, as versions without authentication did (which
// take a signed message for a corrupt one). Adopting keys therefore takes
// three rollouts: Insecure alone, Insecure with Keys (signs, accepts
// anything), Keys alone. Nothing is encrypted: key, version and node id
// travel in clear (see No tokens). There is no replay protection: an
// authentic message replayed later only evicts local copies no newer than
// the version it reported, which costs at most a reload from the source of
// truth, never a stale read or a purge.
//
// # No tokens
//
// Events carry storage keys, which the HTTP layer derives as SHA-256 of
// the session token, plus a version, a kind and a node id. No raw session
// token, and no session data, ever crosses a bus, so a reader of the Redis
// channel learns which sessions are active, never how to use one. A
// Revoked event carries an owner id instead of a storage key: the keyed
// hash of a user id that httpsession hands the store, never the user id.
//
// # Choosing a bus
//
// Local costs a channel send per subscriber and never loses an event
// unless a handler falls QueueSize events behind; Flush lets tests wait
// for delivery instead of sleeping. Redis adds a loopback or LAN round
// trip (tens of microseconds at the median on loopback, see
// BenchmarkRedisInvalidationDelay), one pub/sub connection per
// subscription and one publisher goroutine per bus, and loses events
// whenever Redis or the network does.
//
// # Trade-offs
//
// Redis pub/sub keeps nothing for absent subscribers, so the price of a
// simple, fast bus (one PUBLISH per write, sub-millisecond delivery on a
// LAN) is that a node whose subscription drops loses its whole local tier,
// and a node cut off from Redis for longer than its publish queue lasts
// leaves the others stale until their TTL.
// Keep the local TTL as short as that staleness may be.
package invalidation
