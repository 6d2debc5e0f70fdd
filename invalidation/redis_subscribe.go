package invalidation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backoff between failing attempts, of a subscription to connect and of
// the publisher to send a batch again.
const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// redisSub is one subscription of a Redis bus: a go-redis PubSub read by
// the receive goroutine, which checks and decodes messages into a
// dispatcher.
//
// Ending a subscription must not wait for go-redis: a PubSub holds its lock
// through a dial and the handshake that follows, neither of which a
// cancelled context interrupts once the TCP connection is up, so closing it
// can block until the client's read timeout. close therefore only cancels
// and halts the handler; the receive goroutine and a watcher that closes
// the PubSub finish in the background, counted in the bus's WaitGroup so
// that Close waits for them.
type redisSub struct {
	bus    *Redis
	d      *dispatcher
	v      *verifier       // owned by the receive goroutine
	ctx    context.Context // cancelled by close; aborts dials and backoff
	cancel context.CancelFunc

	ready     chan struct{} // closed on the first subscription confirmation
	readyOnce sync.Once

	mu     sync.Mutex // guards ps and closed
	ps     *redis.PubSub
	closed bool
}

// newRedisSub returns a subscription of b for h; start runs it.
func newRedisSub(b *Redis, h Handler) *redisSub {
	ctx, cancel := context.WithCancel(context.Background())
	return &redisSub{
		bus:    b,
		d:      newDispatcher(h, &b.c, b.opts.ReceiveQueueSize),
		v:      b.keys.newVerifier(),
		ctx:    ctx,
		cancel: cancel,
		ready:  make(chan struct{}),
	}
}

// start starts the handler goroutine and the receive goroutine, which
// connects, so that Subscribe's caller waits on its own ctx, not on a
// dial. The caller has added one to the bus's WaitGroup for the receive
// goroutine.
func (s *redisSub) start() {
	go s.d.run()
	go s.receive()
}

// renew replaces the PubSub with a new one subscribed to the bus channel
// and returns it, or nil once the subscription is closed. go-redis only
// connects when asked to subscribe; if that fails, the PubSub keeps the
// channel and connects again on the next receive.
func (s *redisSub) renew() *redis.PubSub {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if s.ps != nil {
		_ = s.ps.Close()
	}
	// Without channels Subscribe does no I/O, so the lock is not held
	// across the network.
	ps := s.bus.client.Subscribe(s.ctx)
	s.ps = ps
	s.mu.Unlock()
	_ = ps.Subscribe(s.ctx, s.bus.opts.Channel)
	return ps
}

// pubsub returns the current PubSub, or nil once the subscription is
// closed, unless evenClosed.
func (s *redisSub) pubsub(evenClosed bool) *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && !evenClosed {
		return nil
	}
	return s.ps
}

// receive reads the pub/sub connection until close. It tracks whether the
// subscription is live: an error while live is a lost connection, and a
// subscription confirmation after the first is a re-subscription; both are
// gaps. go-redis reconnects and re-subscribes by itself after an error on
// the next receive; receive adds backoff between failing attempts and
// replaces connections that stop answering pings.
func (s *redisSub) receive() {
	defer s.bus.wg.Done()
	// The watcher interrupts a blocked read by closing the PubSub once
	// the subscription ends. It may itself wait for a dial or handshake
	// in progress to give up; receive waits for it before it reports done.
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		<-s.ctx.Done()
		if ps := s.pubsub(true); ps != nil {
			_ = ps.Close()
		}
	}()
	defer func() { <-watcherDone }()
	defer s.cancel() // ends the watcher if receive ends first

	var (
		live, everLive bool
		pingSent       bool
		backoff        time.Duration
	)
	lost := func() {
		if live {
			live = false
			s.d.signalStatus(false)
			s.d.signalGap()
		}
	}
	ps := s.renew()
	for ps != nil {
		msg, err := ps.ReceiveTimeout(s.ctx, s.bus.opts.HealthCheckInterval)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if isTimeout(err) {
				// Silence: ask for a pong; silence after the ping means the
				// connection is dead without having been closed.
				if !pingSent && ps.Ping(s.ctx) == nil {
					pingSent = true
					continue
				}
				lost()
				pingSent = false
				ps = s.renew()
				continue
			}
			lost()
			pingSent = false
			backoff = nextBackoff(backoff)
			if !s.wait(backoff) {
				return
			}
			ps = s.pubsub(false)
			continue
		}
		if s.ctx.Err() != nil {
			return // unsubscribed: the handler is gone
		}
		pingSent, backoff = false, 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			// A re-subscription is reported as a gap, then as live.
			if everLive {
				s.bus.c.reconnects.Add(1)
				s.d.signalGap()
			}
			live, everLive = true, true
			s.d.signalStatus(true)
			s.readyOnce.Do(func() { close(s.ready) })
		case *redis.Message:
			ev, err := s.v.open(m.Payload)
			switch {
			case errors.Is(err, errUnauthenticated):
				s.bus.c.authFailures.Add(1)
			case err != nil:
				s.bus.c.decodeErrors.Add(1)
			default:
				s.d.offerWait(ev, s.bus.opts.ReceiveWait)
			}
		case *redis.Pong:
			// The connection is alive; nothing else to do.
		}
	}
}

// wait sleeps for d between reconnect attempts; it returns false when the
// subscription is closed meanwhile.
func (s *redisSub) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// close ends the subscription and waits for the handler's last call to
// return, not for the receive goroutine: see redisSub. It is safe to call
// more than once, but not from the handler.
func (s *redisSub) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.d.halt()
}

// isTimeout reports whether err is a read deadline expiring, which on a
// pub/sub connection only means nothing was published.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// wrapSubscribeErr explains why Subscribe gave up.
func wrapSubscribeErr(err error) error {
	return fmt.Errorf("invalidation: subscription not confirmed by Redis: %w", err)
}
