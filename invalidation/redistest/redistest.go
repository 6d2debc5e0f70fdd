// Package redistest runs a throwaway redis-server for tests: on a free
// loopback port, without persistence, stopped when the test ends. Tests can
// stop it and restart it on the same port to exercise reconnection.
//
// It never uses a Redis already running on the machine. When redis-server
// is not on PATH, Start skips the test, or fails it when the environment
// has CI=true, so that CI cannot pass by skipping.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint tells how to get redis-server on Debian and Ubuntu.
const InstallHint = "redis-server not found on PATH; install it with: apt-get install -y redis-server"

// startTimeout bounds how long Start and Restart wait for PING to answer.
const startTimeout = 15 * time.Second

// Server is a redis-server child process owned by one test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	output  *syncBuffer
	stopped bool
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
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(s.cleanup)
	// The port is free when chosen but another process may take it before
	// redis-server binds; try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		if lastErr = s.start(port); lastErr == nil {
			s.port = port
			return s
		}
	}
	tb.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's host:port, the same across Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.stopped = true
}

// Restart stops the server if it runs and starts a new one on the same
// port, returning once it answers PING. Its data is gone. Restart fails
// the test if the port was taken meanwhile.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(s.port); err != nil {
		s.tb.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

// Output returns what redis-server has written so far, for diagnostics.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
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

// start launches redis-server on port and waits until it answers PING.
func (s *Server) start(port int) error {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", "",
	)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	s.mu.Lock()
	s.cmd, s.exited, s.output, s.stopped = cmd, exited, out, false
	s.mu.Unlock()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitReady(addr, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		return fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	return nil
}

// waitReady polls addr with PING until it answers PONG, the process exits
// or startTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(ctx, addr) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited before answering PING on %s", addr)
		case <-ctx.Done():
			return fmt.Errorf("redis-server did not answer PING on %s within %v", addr, startTimeout)
		case <-tick.C:
		}
	}
}

// ping sends one inline PING over a fresh connection.
func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago, never
// Redis's default 6379.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the child's output copier and the
// test reading it concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
