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
	// DefaultFlushTimeout is how long Close spends sending queued events.
	DefaultFlushTimeout = time.Second
)

// RedisOptions configures NewRedis. The zero value is ready to use.
type RedisOptions struct {
	// Channel is the pub/sub channel; every node of one deployment must
	// use the same one. Default DefaultChannel.
	Channel string
	// QueueSize is the publish queue, in events. When the publisher
	// goroutine falls that far behind (Redis slow or down), Publish drops
	// events with ErrDropped. Default DefaultQueueSize.
	QueueSize int
	// ReceiveQueueSize is each subscription's receive queue, in events.
	// When a handler falls that far behind, events are dropped and the
	// handler gets HandleGap. Default DefaultQueueSize.
	ReceiveQueueSize int
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
// since anything published in between never reached it.
type Redis struct {
	client redis.UniversalClient
	opts   RedisOptions
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
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if client == nil {
		panic("invalidation: NewRedis: nil client")
	}
	opts = opts.withDefaults()
	b := &Redis{
		client: client,
		opts:   opts,
		queue:  make(chan Event, opts.QueueSize),
		stop:   make(chan struct{}),
		subs:   make(map[*redisSub]struct{}),
	}
	b.wg.Add(1)
	go b.publishLoop()
	return b
}

// Subscribe opens a pub/sub connection for h and returns once Redis has
// confirmed the subscription. If Redis cannot be reached it keeps trying
// until ctx ends, then gives up and returns ctx's error; it returns
// ErrClosed if the bus is closed meanwhile.
func (b *Redis) Subscribe(ctx context.Context, h Handler) (func(), error) {
	if h == nil {
		return nil, errors.New("invalidation: Subscribe: nil handler")
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	s := newRedisSub(b, h)
	b.subs[s] = struct{}{}
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
	case <-s.recvDone: // the bus was closed
		unsubscribe()
		return nil, ErrClosed
	case <-ctx.Done():
		unsubscribe()
		return nil, wrapSubscribeErr(ctx.Err())
	}
}

// Close stops Publish, sends what is still queued (see FlushTimeout), ends
// every subscription and waits for all of the bus's goroutines, including
// a pipeline already in flight, which the client's dial, read and write
// timeouts bound. It is safe to call twice. It does not close the client,
// and must not be called from a handler.
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
func (b *Redis) Stats() Stats { return b.c.snapshot() }
