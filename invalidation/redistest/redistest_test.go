package redistest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/invalidation/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pingCtx bounds one PING in these tests.
func pingCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartStopRestart(t *testing.T) {
	srv := redistest.Start(t)
	if strings.HasSuffix(srv.Addr(), ":6379") {
		t.Fatalf("Addr() = %s, want a port other than the system Redis's", srv.Addr())
	}
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %s, want loopback", srv.Addr())
	}
	c := srv.NewClient(&redis.Options{MaxRetries: -1})

	if err := c.Set(pingCtx(t), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a started server: %v", err)
	}

	addr := srv.Addr()
	srv.Stop()
	srv.Stop() // a second Stop is harmless
	if err := c.Ping(pingCtx(t)).Err(); err == nil {
		t.Fatal("PING succeeded on a stopped server")
	}

	srv.Restart()
	if srv.Addr() != addr {
		t.Fatalf("Addr() after Restart = %s, want %s", srv.Addr(), addr)
	}
	if err := c.Ping(pingCtx(t)).Err(); err != nil {
		// The pool may hand out one connection that died with the old
		// process; a second PING must use a fresh one.
		if err := c.Ping(pingCtx(t)).Err(); err != nil {
			t.Fatalf("PING after Restart: %v", err)
		}
	}
	if err := c.Get(pingCtx(t), "k").Err(); err != redis.Nil {
		t.Fatalf("GET k after Restart = %v, want redis.Nil (no persistence)", err)
	}
}

func TestTwoServersGetDistinctPorts(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	for _, srv := range []*redistest.Server{a, b} {
		if err := srv.NewClient(nil).Ping(pingCtx(t)).Err(); err != nil {
			t.Fatalf("PING %s: %v", srv.Addr(), err)
		}
	}
}

// recordingTB stands in for a test to watch what Start does when
// redis-server is missing. Skipf and Fatalf end the goroutine like the
// real ones do.
type recordingTB struct {
	testing.TB
	mu       sync.Mutex
	skipped  string
	fatal    string
	cleanups []func()
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestMissingBinary(t *testing.T) {
	tests := []struct {
		name      string
		ci        string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "developer machine skips", ci: "", wantSkip: true},
		{name: "CI fails", ci: "true", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // a directory without redis-server
			t.Setenv("CI", tt.ci)
			rec := &recordingTB{TB: t}
			done := make(chan *redistest.Server)
			go func() {
				defer close(done)
				done <- redistest.Start(rec)
			}()
			if srv, ok := <-done; ok {
				t.Fatalf("Start returned a server %v without redis-server on PATH", srv)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := rec.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped = %q, want skip %v", rec.skipped, tt.wantSkip)
			}
			if got := rec.fatal != ""; got != tt.wantFatal {
				t.Errorf("fatal = %q, want fatal %v", rec.fatal, tt.wantFatal)
			}
			msg := rec.skipped + rec.fatal
			if !strings.Contains(msg, "apt-get install -y redis-server") {
				t.Errorf("message %q lacks the install hint", msg)
			}
		})
	}
}
