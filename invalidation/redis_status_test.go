package invalidation_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// lifecycleRecorder is a StatusHandler that logs every call, in order:
// "live", "lost", "gap" or "event <key> <version>".
type lifecycleRecorder struct {
	log chan string
}

var _ invalidation.StatusHandler = (*lifecycleRecorder)(nil)

func newLifecycleRecorder() *lifecycleRecorder {
	return &lifecycleRecorder{log: make(chan string, 1024)}
}

func (r *lifecycleRecorder) HandleEvent(e invalidation.Event) {
	r.log <- fmt.Sprintf("event %s %d", e.Key, e.Version)
}

func (r *lifecycleRecorder) HandleGap() { r.log <- "gap" }

func (r *lifecycleRecorder) HandleStatus(live bool) {
	if live {
		r.log <- "live"
	} else {
		r.log <- "lost"
	}
}

// expect fails the test unless the next calls are want, in order.
func (r *lifecycleRecorder) expect(tb testing.TB, want ...string) {
	tb.Helper()
	for i, w := range want {
		select {
		case got := <-r.log:
			if got != w {
				tb.Fatalf("call %d = %q, want %q (expecting %q)", i, got, w, want)
			}
		case <-time.After(waitTimeout):
			tb.Fatalf("no call %d (%q) within %v", i, w, waitTimeout)
		}
	}
}

// noPending fails the test if a call is logged and unread.
func (r *lifecycleRecorder) noPending(tb testing.TB) {
	tb.Helper()
	select {
	case got := <-r.log:
		tb.Fatalf("unexpected call %q", got)
	default:
	}
}

func TestRedisStatusAroundRestart(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newLifecycleRecorder()
	subscribe(t, b, r)
	// The first confirmation: live, without a gap.
	r.expect(t, "live")
	mustPublish(t, a, ev("k", 1, invalidation.Changed, "a"))
	r.expect(t, "event k 1")

	srv.Stop()
	r.expect(t, "lost", "gap")
	r.noPending(t)

	srv.Restart()
	r.expect(t, "gap", "live")
	mustPublish(t, a, ev("k", 2, invalidation.Changed, "a"))
	r.expect(t, "event k 2")
	r.noPending(t)
	if s := b.Stats(); s.Reconnects != 1 || s.Gaps != 2 {
		t.Fatalf("Stats = %+v, want 1 reconnect and 2 gaps", s)
	}
}

// TestRedisStatusWhenSubscribedWhileDown subscribes while Redis is down:
// nothing is reported while the attempts fail, and the first confirmation
// is reported as live without a gap.
func TestRedisStatusWhenSubscribedWhileDown(t *testing.T) {
	srv := redistest.Start(t)
	dials := make(chan struct{}, 1024)
	client := srv.NewClient(&redis.Options{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case dials <- struct{}{}:
			default:
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	b := newRedisBusOn(t, client, invalidation.RedisOptions{})
	srv.Stop()
	r := newLifecycleRecorder()
	type result struct {
		unsubscribe func()
		err         error
	}
	done := make(chan result, 1)
	go func() {
		unsubscribe, err := b.Subscribe(testCtx(t), r)
		done <- result{unsubscribe, err}
	}()
	for range 2 { // two failed attempts: the subscription is retrying
		select {
		case <-dials:
		case <-time.After(waitTimeout):
			t.Fatal("Subscribe made no connection attempt")
		}
	}
	r.noPending(t)
	srv.Restart()
	res := <-done
	if res.err != nil {
		t.Fatalf("Subscribe once Redis is back: %v", res.err)
	}
	defer res.unsubscribe()
	r.expect(t, "live")
	r.noPending(t)
}

// stuckServer accepts TCP connections and never answers, as a hung Redis
// or a load balancer without a backend does.
type stuckServer struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startStuckServer(tb testing.TB) *stuckServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	s := &stuckServer{ln: ln, accepted: make(chan struct{}, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			select {
			case s.accepted <- struct{}{}:
			default:
			}
		}
	}()
	tb.Cleanup(s.close)
	return s
}

// close stops listening and closes every connection.
func (s *stuckServer) close() {
	_ = s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// TestRedisSubscribeGivesUpWhenCtxEnds cancels Subscribe while Redis
// cannot be reached in three ways. Subscribe must return context.Canceled
// at once, not when a client timeout fires (they are set far beyond the
// test's deadline), and once the bus and client are closed no goroutine
// may remain.
func TestRedisSubscribeGivesUpWhenCtxEnds(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (addr string, attempt <-chan struct{}, unblock func())
		// hang, if true, makes the dialer wait for its context instead
		// of dialing.
		hang bool
	}{
		{name: "connection refused", setup: func(t *testing.T) (string, <-chan struct{}, func()) {
			srv := redistest.Start(t)
			srv.Stop()
			return srv.Addr(), nil, func() {}
		}},
		{name: "dial never completes", hang: true, setup: func(t *testing.T) (string, <-chan struct{}, func()) {
			return "127.0.0.1:1", nil, func() {}
		}},
		{name: "server never answers", setup: func(t *testing.T) (string, <-chan struct{}, func()) {
			s := startStuckServer(t)
			return s.ln.Addr().String(), s.accepted, s.close
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			addr, attempt, unblock := tt.setup(t)
			dials := make(chan struct{}, 64)
			if attempt == nil {
				attempt = dials
			}
			client := redis.NewClient(&redis.Options{
				Addr:         addr,
				DialTimeout:  time.Minute,
				ReadTimeout:  time.Minute,
				WriteTimeout: time.Minute,
				Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
					select {
					case dials <- struct{}{}:
					default:
					}
					if tt.hang {
						<-ctx.Done()
						return nil, ctx.Err()
					}
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				},
			})
			bus, err := invalidation.NewRedis(client, invalidation.RedisOptions{Keys: []invalidation.Key{testKey("k1")}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				unsubscribe, err := bus.Subscribe(ctx, newLifecycleRecorder())
				if err == nil {
					unsubscribe()
				}
				done <- err
			}()
			select {
			case <-attempt:
			case <-time.After(waitTimeout):
				t.Fatal("Subscribe made no connection attempt")
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Subscribe = %v, want context.Canceled", err)
				}
			case <-time.After(waitTimeout):
				t.Fatalf("Subscribe still waiting %v after its context ended", waitTimeout)
			}

			// The abandoned attempt ends when the server lets go; Close
			// waits for it, and then nothing of the bus remains.
			unblock()
			closed := make(chan struct{})
			go func() {
				_ = bus.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(waitTimeout):
				t.Fatal("Close still waiting for the abandoned subscription")
			}
			_ = client.Close()
			goleak.VerifyNone(t, ignore)

			// An already-cancelled context fails at once.
			if _, err := bus.Subscribe(ctx, newLifecycleRecorder()); !errors.Is(err, context.Canceled) {
				t.Fatalf("Subscribe with a cancelled context = %v, want context.Canceled", err)
			}
		})
	}
}

// TestRedisSubscribeAfterGivingUp is what a node starting without Redis
// does: Subscribe gives up, Redis comes back, a later Subscribe succeeds
// and works.
func TestRedisSubscribeAfterGivingUp(t *testing.T) {
	srv := redistest.Start(t)
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Subscribe(ctx, newLifecycleRecorder())
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe = %v, want context.Canceled", err)
	}
	srv.Restart()
	r := newLifecycleRecorder()
	subscribe(t, b, r)
	r.expect(t, "live")
	a := newRedisBus(t, srv, invalidation.RedisOptions{})
	mustPublish(t, a, ev("k", 1, invalidation.Deleted, "a"))
	r.expect(t, "event k 1")
	r.noPending(t)
}
