package invalidation

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Kind says what happened to a session.
type Kind uint8

// The kinds of event. The zero Kind is invalid so that a forgotten field
// cannot pass for a real event.
const (
	// Changed: a create or a save produced Event.Version.
	Changed Kind = 1
	// Touched: the expiry was extended; the record is at Event.Version.
	Touched Kind = 2
	// Deleted: the record is gone. Event.Version is the last version the
	// deleter knew of, or 0 when it did not know; receivers drop every local
	// copy whatever its version.
	Deleted Kind = 3
	// Revoked: every session of one owner created before a generation is
	// gone ("log out everywhere"). Event.Key is the owner id, not a
	// storage key, and Event.Version the owner's new generation;
	// receivers drop their copies of the owner's sessions and refuse
	// older ones from then on. Nodes that predate this kind drop the
	// message as corrupt (Stats.DecodeErrors): roll it out to every node
	// before using owners.
	Revoked Kind = 4
)

// String returns "changed", "touched", "deleted", "revoked" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case Changed:
		return "changed"
	case Touched:
		return "touched"
	case Deleted:
		return "deleted"
	case Revoked:
		return "revoked"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// valid reports whether k is one of the defined kinds.
func (k Kind) valid() bool { return k >= Changed && k <= Revoked }

// Limits on the strings an Event carries. Storage keys are 43-byte
// base64url SHA-256 digests, node ids are short; the limits only keep a
// corrupt or hostile message from costing much.
const (
	// MaxKeyLen is the longest Event.Key a bus accepts, in bytes.
	MaxKeyLen = 1024
	// MaxOriginLen is the longest Event.Origin a bus accepts, in bytes.
	MaxOriginLen = 255
)

// Event tells other nodes that one session changed. It carries the storage
// key (already a hash of the token), never the token itself.
type Event struct {
	// Key is the storage key of the session; it must not be empty.
	Key string
	// Version is the version the event is about (see Kind); the bus carries
	// it uninterpreted.
	Version uint64
	// Kind says what happened.
	Kind Kind
	// Origin is the node id of the publisher. Buses deliver events to every
	// subscriber, the publisher's own included; handlers that want to skip
	// their own events compare Origin with their node id.
	Origin string
}

// validate checks the fields a bus relies on; errors match ErrInvalid.
func (e Event) validate() error {
	switch {
	case e.Key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(e.Key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalid, len(e.Key), MaxKeyLen)
	case len(e.Origin) > MaxOriginLen:
		return fmt.Errorf("%w: origin of %d bytes exceeds %d", ErrInvalid, len(e.Origin), MaxOriginLen)
	case !e.Kind.valid():
		return fmt.Errorf("%w: %v", ErrInvalid, e.Kind)
	}
	return nil
}

// Handler receives the events of one subscription. A bus calls its methods
// from one goroutine per subscription, never concurrently, in the order the
// subscription received them. They must return quickly (evict from a local
// cache, count) and must not call that subscription's unsubscribe function
// nor the bus's Close, which wait for the handler to return. They may call
// Publish.
type Handler interface {
	// HandleEvent is called for every event the subscription receives,
	// events of the handler's own node included.
	HandleEvent(Event)
	// HandleGap is called when the subscription may have missed events:
	// its connection was lost, it was re-established, or its receive queue
	// overflowed. The handler must then forget everything it learnt only
	// from the absence of events (a tier purges its local cache). A gap is
	// signalled after the loss it reports; several losses close together
	// may be reported by one call.
	//
	// A message that does not decode or fails authentication is not a
	// gap: the bus drops it and counts it (Stats.DecodeErrors,
	// Stats.AuthFailures). Anyone able to write to the transport could
	// otherwise make every node purge at will, and a genuine message is
	// not corrupted in transit by TCP and Redis.
	HandleGap()
}

// StatusHandler is implemented by Handlers that want to know whether their
// subscription is live, for a "bus connected" gauge say. A bus detects it
// on the Handler given to Subscribe and calls HandleStatus from the same
// goroutine as the other Handler methods, never concurrently with them.
//
// Before the first call the handler should assume "not live". A bus that
// can lose its subscription (Redis) calls:
//
//   - HandleStatus(true) when the subscription becomes live: the first
//     time Redis confirms it (this may come before or after Subscribe
//     returns), and each time it is re-established, after the HandleGap
//     that reports the re-subscription;
//   - HandleStatus(false) when it notices the connection is lost, before
//     the HandleGap that reports the loss.
//
// Only changes are reported, and only the latest state counts: when the
// state flips and flips back before the handler's goroutine gets to it
// (the handler was busy), the round trip may not be reported at all, but
// the gaps it caused always are. Attempts that fail before the first
// confirmation report nothing, and the first confirmation comes with no
// gap: a handler that was already in use before its subscription was live
// (a tier that started while Redis was down) must treat that time as a gap
// itself. Unsubscribe and Close report nothing. Local never loses a
// subscription and never calls HandleStatus.
type StatusHandler interface {
	// HandleStatus reports whether the subscription is live, that is,
	// whether events published from now on reach the handler.
	HandleStatus(live bool)
}

// Bus carries Events between the nodes that share a session store. It is
// best effort: events can be lost, and each loss the subscriber can notice
// is reported with Handler.HandleGap. Implementations are safe for
// concurrent use.
type Bus interface {
	// Publish hands e to the bus and returns without waiting for the
	// network. It returns an error matching ErrInvalid for a malformed
	// event, ErrDropped when the bus had no room for it (the event is lost
	// and counted) and ErrClosed after Close. Callers whose write already
	// succeeded treat every error as "other nodes may stay stale until
	// their local TTL".
	Publish(ctx context.Context, e Event) error
	// Subscribe delivers every event published on the bus from now on to h,
	// until unsubscribe is called or the bus is closed. It returns once the
	// subscription is live, so an event published after Subscribe returns
	// reaches h unless it is lost. unsubscribe is safe to call more than
	// once and returns after h's last call. Several handlers may subscribe.
	// h may also implement StatusHandler.
	Subscribe(ctx context.Context, h Handler) (unsubscribe func(), err error)
	// Close stops every goroutine the bus started and ends every
	// subscription. It is safe to call twice; Publish and Subscribe return
	// ErrClosed afterwards. Close does not close clients it was given.
	Close() error
}

// Errors returned by buses; match them with errors.Is.
var (
	// ErrClosed is returned by Publish and Subscribe after Close.
	ErrClosed = errors.New("invalidation: bus closed")
	// ErrDropped is returned by Publish when the publish queue is full; the
	// event is discarded and counted in Stats.Dropped.
	ErrDropped = errors.New("invalidation: publish queue full, event dropped")
	// ErrInvalid is returned by Publish for an event a bus cannot carry
	// (empty or oversized key, oversized origin, unknown kind).
	ErrInvalid = errors.New("invalidation: invalid event")
	// ErrCorrupt is returned when a message does not decode as an Event.
	ErrCorrupt = errors.New("invalidation: corrupt message")
)

// Stats is a snapshot of a bus's counters since it was created. Counters
// only grow; QueueDepth is a gauge. Fields a bus has no use for stay zero.
type Stats struct {
	// Published counts events handed on: for Local, Publish calls that
	// returned nil; for Redis, events Redis acknowledged.
	Published uint64
	// PublishErrors counts failed attempts to send an event (Redis); an
	// event that is sent again counts once per failed attempt.
	PublishErrors uint64
	// Dropped counts events that were never sent (Redis): discarded by
	// Publish with ErrDropped, or still unsent when Close gave up.
	Dropped uint64
	// Received counts events that reached a subscription, once per
	// subscription, including those then dropped by a full receive queue
	// (ReceiveDropped).
	Received uint64
	// Handled counts HandleEvent calls, as each starts.
	Handled uint64
	// DecodeErrors counts messages dropped because they did not decode
	// (Redis). They are not gaps, and not counted in Received.
	DecodeErrors uint64
	// AuthFailures counts messages dropped because they were not
	// authenticated (Redis): unsigned on a bus with keys, signed with a
	// key id the bus does not know, or carrying a wrong MAC. They are not
	// gaps, and not counted in Received. A steady count means a node with
	// other keys, or someone else, publishes on the channel.
	AuthFailures uint64
	// ReceiveDropped counts events discarded because a subscription's
	// receive queue was full; each one also causes a gap.
	ReceiveDropped uint64
	// ReceiveWaits counts events that found a subscription's receive
	// queue full and waited for room (Redis, RedisOptions.ReceiveWait),
	// whether or not they were dropped after all.
	ReceiveWaits uint64
	// Reconnects counts subscriptions re-established after a lost
	// connection (Redis); each one also causes a gap.
	Reconnects uint64
	// Gaps counts HandleGap calls, as each starts.
	Gaps uint64
	// QueueDepth is the number of events waiting in the publish queue now
	// (Redis), not counting a batch being sent or waiting to be sent
	// again: a gauge. It nears RedisOptions.QueueSize when Redis is slow
	// or down, and Publish drops events once it gets there.
	QueueDepth int
}

// counters holds the live values behind Stats.
type counters struct {
	published, publishErrors, dropped     atomic.Uint64
	received, handled                     atomic.Uint64
	decodeErrors, authFailures            atomic.Uint64
	receiveDropped, reconnects, gapsTotal atomic.Uint64
	receiveWaits                          atomic.Uint64
}

// snapshot reads every counter; each is read atomically, the set is not.
func (c *counters) snapshot() Stats {
	return Stats{
		Published:      c.published.Load(),
		PublishErrors:  c.publishErrors.Load(),
		Dropped:        c.dropped.Load(),
		Received:       c.received.Load(),
		Handled:        c.handled.Load(),
		DecodeErrors:   c.decodeErrors.Load(),
		AuthFailures:   c.authFailures.Load(),
		ReceiveDropped: c.receiveDropped.Load(),
		ReceiveWaits:   c.receiveWaits.Load(),
		Reconnects:     c.reconnects.Load(),
		Gaps:           c.gapsTotal.Load(),
	}
}
