// Package redistest runs a throwaway redis-server for tests: on a free
// loopback port, without persistence, stopped when the test ends. Tests can
// stop it and restart it on the same port to exercise reconnection.
//
// It never uses a Redis already running on the machine. When redis-server
// is not on PATH, Start skips the test, or fails it when the environment
// has CI=true, so that CI cannot pass by skipping.
package redistest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/internal/redisserver"
)

// InstallHint tells how to get redis-server on Debian and Ubuntu.
const InstallHint = "redis-server not found on PATH; install it with: apt-get install -y redis-server"

// Server is a redis-server child process owned by one test. On Linux the
// kernel kills it if the test binary dies without running its cleanups (a
// panic, a -timeout), so no server outlives its test.
type Server struct {
	tb  testing.TB
	srv *redisserver.Server
}

// Start starts redis-server on a free 127.0.0.1 port, waits until it
// answers PING and registers its Stop with tb.Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redistest: %s", InstallHint)
		}
		tb.Skipf("redistest: %s", InstallHint)
	}
	s := &Server{tb: tb, srv: redisserver.New(redisserver.Options{Bin: bin, Dir: tb.TempDir()})}
	tb.Cleanup(s.cleanup)
	if err := s.srv.Start(context.Background()); err != nil {
		tb.Fatalf("redistest: starting redis-server: %v", err)
		return nil
	}
	return s
}

// Addr returns the server's host:port, the same across Restart.
func (s *Server) Addr() string {
	return s.srv.Addr()
}

// NewClient returns a go-redis client for the server, closed when the test
// ends. opts may be nil; its Addr is overwritten.
func (s *Server) NewClient(opts *redis.Options) *redis.Client {
	var o redis.Options
	if opts != nil {
		o = *opts
	}
	o.Addr = s.Addr()
	c := redis.NewClient(&o)
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server at once, as a crash would, and waits for it to
// exit. Clients see their connections closed. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.srv.Stop()
}

// Restart stops the server if it runs and starts a new one on the same
// port, returning once it answers PING. Its data is gone. Restart fails
// the test if the port was taken meanwhile.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.srv.Restart(context.Background()); err != nil {
		s.tb.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

// Output returns what redis-server has written so far, for diagnostics.
func (s *Server) Output() string {
	return s.srv.Output()
}

// cleanup stops the server and shows its log if the test failed.
func (s *Server) cleanup() {
	s.Stop()
	if s.tb.Failed() {
		if out := s.Output(); out != "" {
			s.tb.Logf("redis-server output:\n%s", out)
		}
	}
}
