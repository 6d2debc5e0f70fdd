// Package redisserver runs a throwaway redis-server child process: on a
// free 127.0.0.1 port, without persistence, in a directory the caller
// gives it, stopped at once as a crash would stop it, and restarted on the
// same port on demand. It never uses a Redis already running on the
// machine.
//
// It is the one implementation behind invalidation/redistest, which runs
// a server for a test, and bench, which runs one for a benchmark run.
package redisserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// StartTimeout bounds how long Start and Restart wait for PING to answer.
const StartTimeout = 15 * time.Second

// Options says how to run redis-server.
type Options struct {
	// Bin is the redis-server executable to run.
	Bin string
	// Dir is the server's working directory (--dir), owned by the caller.
	Dir string
	// OwnProcessGroup puts the server, on Linux, in a process group of its
	// own, so that a Ctrl-C at the terminal interrupts the parent (which
	// then stops the server) and not the server; Stop then kills the whole
	// group. On Linux the kernel kills the server if the thread that
	// started it dies, either way.
	OwnProcessGroup bool
}

// Server is a redis-server child process, started by Start. Its methods
// are safe to call from several goroutines, except Start and Restart,
// which must not run concurrently with each other.
type Server struct {
	opts Options
	port int // chosen by Start, the same across Restart

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	output  *syncBuffer
	stopped bool
}

// New returns a Server that runs as opts says; Start starts it.
func New(opts Options) *Server {
	return &Server{opts: opts}
}

// Start starts redis-server on a free 127.0.0.1 port and returns once it
// answers PING. It gives up when ctx ends.
func (s *Server) Start(ctx context.Context) error {
	if s.port != 0 {
		return errors.New("redisserver: Start called twice")
	}
	// The port is free when chosen but another process may take it before
	// redis-server binds; try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = s.start(ctx, port); lastErr == nil {
			s.port = port
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

// Addr returns the server's host:port, the same across Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
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
	kill(s.cmd, s.opts.OwnProcessGroup)
	<-s.exited
	s.stopped = true
}

// Restart stops the server if it runs and starts a new one on the same
// port, returning once it answers PING. Its data is gone. Restart fails
// if the port was taken meanwhile.
func (s *Server) Restart(ctx context.Context) error {
	if s.port == 0 {
		return errors.New("redisserver: Restart called before Start succeeded")
	}
	s.Stop()
	return s.start(ctx, s.port)
}

// Output returns what the last redis-server process started has written
// so far, for diagnostics.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// start launches redis-server on port and waits until it answers PING.
func (s *Server) start(ctx context.Context, port int) error {
	cmd := exec.Command(s.opts.Bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.opts.Dir,
		"--logfile", "",
	)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr(s.opts.OwnProcessGroup)
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
	if err := waitReady(ctx, addr, exited); err != nil {
		kill(cmd, s.opts.OwnProcessGroup)
		<-exited
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		return fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	return nil
}

// waitReady polls addr with PING until it answers PONG, the process exits,
// ctx ends or StartTimeout passes. The pings are raw inline commands: a
// client library might log every refused dial.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if Ping(ctx, addr) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited before answering PING on %s", addr)
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("redis-server did not answer PING on %s: %w", addr, err)
			}
			return fmt.Errorf("redis-server did not answer PING on %s within %v", addr, StartTimeout)
		case <-tick.C:
		}
	}
}

// Ping sends one inline PING to addr over a fresh connection and returns
// nil if it answers PONG.
func Ping(ctx context.Context, addr string) error {
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

// syncBuffer is a bytes.Buffer safe for the child's output copier and a
// reader at once.
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
