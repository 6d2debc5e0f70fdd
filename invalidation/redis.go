package invalidation

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	// DefaultChannel is the Redis pub/sub channel events travel on.
	DefaultChannel = "tiersession:invalidate"
	// DefaultBatchSize is the most events sent in one pipeline.
	DefaultBatchSize = 128
	// DefaultHealthCheckInterval is how long a subscription may stay
	// silent before it pings Redis.
	DefaultHealthCheckInterval = 3 * time.Second
	// DefaultReceiveWait is RedisOptions.ReceiveWait's default: long
	// enough for a handler that is merely descheduled, short against the
	// default LocalTTL that bounds staleness anyway.
	DefaultReceiveWait = time.Second
	// DefaultFlushTimeout is how long Close spends sending queued events.
	DefaultFlushTimeout = time.Second
)

// RedisOptions configures NewRedis. Keys (or Insecure) must be set; every
// other field has a working default.
type RedisOptions struct {
	// Channel is the pub/sub channel; every node of one deployment must
	// use the same one. Default DefaultChannel.
	Channel string
	// Keys authenticate messages with HMAC-SHA256. The first key signs
	// every message the bus publishes; a received message is accepted
	// only if it is signed by one of Keys, looked up by Key.ID. Others
	// are dropped and counted in Stats.AuthFailures. The MAC covers the
	// channel name, so a message cannot be replayed on another channel.
	//
	// To rotate from key A to key B without losing invalidations, deploy
	// Keys [A, B] to every node (all still sign with A, all accept B),
	// then [B, A] (all sign with B), then [B]. Every node must accept a
	// key before any node signs with it.
	//
	// No default: NewRedis fails without keys unless Insecure is set.
	Keys []Key
	// Insecure accepts messages without checking any MAC. It is required
	// to run without Keys, and then the bus also publishes unsigned
	// messages. Anyone who can PUBLISH on the channel can then evict
	// sessions from every node's local tier at will (though never make a
	// node serve stale or forged data: versions are checked against the
	// source of truth). With Keys too, the bus signs what it publishes but
	// still accepts anything that decodes, signed or not: the middle step
	// of moving a deployment from no keys to keys. Default false.
	Insecure bool
	// QueueSize is the publish queue, in events. When the publisher
	// goroutine falls that far behind (Redis slow or down), Publish drops
	// events with ErrDropped. Default DefaultQueueSize.
	QueueSize int
	// ReceiveQueueSize is each subscription's receive queue, in events.
	// When a handler falls that far behind, the subscription waits up to
	// ReceiveWait for room, then drops the event and the handler gets
	// HandleGap. Default DefaultQueueSize.
	ReceiveQueueSize int
	// ReceiveWait is how long a subscription whose receive queue is full
	// waits for its handler before it drops an event (a gap: the tier
	// purges its local tier). It does not read Redis meanwhile, so Redis
	// holds what is published, up to its pub/sub client output buffer
	// limit (by default 32 MB at once, or 8 MB for a minute), past which
	// it closes the connection, a gap too. A burst the handler absorbs
	// within ReceiveWait is delivered late instead of purging. Default
	// DefaultReceiveWait; negative: drop at once.
	ReceiveWait time.Duration
	// BatchSize is the most events the publisher sends in one pipeline.
	// Default DefaultBatchSize.
	BatchSize int
	// HealthCheckInterval is how long a subscription may receive nothing
	// before it pings Redis; when the ping is not answered within another
	// interval the connection counts as lost and is replaced. It bounds
	// how long a silently dead connection (no FIN, no RST) goes unnoticed
	// to about twice its value. Default DefaultHealthCheckInterval.
	HealthCheckInterval time.Duration
	// FlushTimeout is how long Close spends sending events still queued
	// or waiting to be sent again; what is not sent by then is dropped and
	// counted in Dropped. Negative: Close drops them at once. Default
	// DefaultFlushTimeout.
	FlushTimeout time.Duration
}

// withDefaults returns o with zero fields set to their defaults.
func (o RedisOptions) withDefaults() RedisOptions {
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.ReceiveQueueSize <= 0 {
		o.ReceiveQueueSize = DefaultQueueSize
	}
	if o.ReceiveWait == 0 {
		o.ReceiveWait = DefaultReceiveWait
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.HealthCheckInterval <= 0 {
		o.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	return o
}

// Redis is a Bus on Redis (or Valkey) pub/sub, through go-redis v9.
//
// Publish queues the event on a bounded queue and returns; one publisher
// goroutine drains the queue, sending up to BatchSize PUBLISH commands per
// pipeline, and sends failed ones again with backoff until Redis takes
// them, so an outage of the publisher's connection delays invalidations
// rather than losing them, up to QueueSize of them. Events from one bus
// reach each subscriber in publish order, except around errors: an event
// may be lost, sent twice (applying an invalidation twice is harmless) or,
// when only part of a pipeline failed, arrive after later ones.
//
// Each Subscribe holds one pub/sub connection with its own receive
// goroutine and handler goroutine. The receive loop reconnects with
// backoff whenever the connection is lost and calls HandleGap when it
// notices the loss and again when the subscription is re-established,
// since anything published in between never reached it; a StatusHandler
// hears HandleStatus(false) and HandleStatus(true) around them. Messages
// that do not decode or fail authentication (see RedisOptions.Keys) are
// dropped and counted, never treated as gaps.
type Redis struct {
	client redis.UniversalClient
	opts   RedisOptions
	keys   *keyring
	c      counters
	queue  chan Event
	stop   chan struct{} // closed by Close: the publisher flushes and exits
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against concurrent enqueues, and subs
	closed bool
	subs   map[*redisSub]struct{}
}

var _ Bus = (*Redis)(nil)

// NewRedis returns a bus on client and starts its publisher goroutine.
// client is typically a *redis.Client or *redis.ClusterClient; the bus
// does not close it. Close the bus before the client.
//
// It fails, starting nothing, when client is nil, when opts has no Keys
// and Insecure is not set, or when a key is malformed (see Key).
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, errors.New("invalidation: NewRedis: nil client")
	}
	opts = opts.withDefaults()
	keys, err := newKeyring(opts.Keys, opts.Insecure, opts.Channel)
	if err != nil {
		return nil, err
	}
	opts.Keys = keys.keys // the checked copy
	b := &Redis{
		client: client,
		opts:   opts,
		keys:   keys,
		queue:  make(chan Event, opts.QueueSize),
		stop:   make(chan struct{}),
		subs:   make(map[*redisSub]struct{}),
	}
	b.wg.Add(1)
	go b.publishLoop()
	return b, nil
}

// Subscribe opens a pub/sub connection for h and returns once Redis has
// confirmed the subscription. If Redis cannot be reached it keeps trying
// until ctx ends, then gives up and returns an error wrapping ctx's error
// (errors.Is(err, context.Canceled)); it returns ErrClosed if the bus is
// closed meanwhile. Giving up is prompt even when a connection attempt
// is stuck (an unanswered dial or handshake): that attempt is abandoned
// to the bus's goroutines, which Close waits for.
//
// A caller that must not wait for Redis (a node starting while Redis is
// down) calls Subscribe from a goroutine of its own, with a context it
// cancels when it gives up; h can implement StatusHandler to learn when
// the subscription goes live.
func (b *Redis) Subscribe(ctx context.Context, h Handler) (func(), error) {
	if h == nil {
		return nil, errors.New("invalidation: Subscribe: nil handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrapSubscribeErr(err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	s := newRedisSub(b, h)
	b.subs[s] = struct{}{}
	// Added under the lock that Close takes before it waits, so Close
	// always waits for this subscription's goroutines.
	b.wg.Add(1)
	b.mu.Unlock()
	s.start()

	unsubscribe := func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.close()
	}
	select {
	case <-s.ready:
		return unsubscribe, nil
	case <-s.ctx.Done(): // the bus was closed
		unsubscribe()
		return nil, ErrClosed
	case <-ctx.Done():
		unsubscribe()
		return nil, wrapSubscribeErr(ctx.Err())
	}
}

// Close stops Publish, sends what is still queued (see FlushTimeout), ends
// every subscription and waits for all of the bus's goroutines, including
// a pipeline or a subscription's connection attempt already in flight,
// which the client's dial, read and write timeouts bound. It is safe to
// call twice. It does not close the client, and must not be called from a
// handler.
func (b *Redis) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	// Closing stop under the lock means that once Publish reports
	// ErrClosed the publisher has been told to flush.
	close(b.stop)
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()

	for s := range subs {
		s.close()
	}
	b.wg.Wait()
	return nil
}

// Stats returns a snapshot of the bus's counters; the subscription
// counters are summed over all subscriptions.
func (b *Redis) Stats() Stats {
	s := b.c.snapshot()
	s.QueueDepth = b.queueDepth()
	return s
}
