package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisInstallHint tells how to get redis-server on Debian and Ubuntu.
const RedisInstallHint = "apt-get install -y redis-server"

// ErrNoRedisServer is returned by StartRedisServer when redis-server is
// not on PATH.
var ErrNoRedisServer = errors.New("bench: redis-server is not on PATH")

// redisStartTimeout bounds how long StartRedisServer waits for PING.
const redisStartTimeout = 15 * time.Second

// RedisServer is a throwaway redis-server the harness started for one run:
// on a free 127.0.0.1 port, without persistence, in a directory of its
// own, in its own process group (a Ctrl-C at the terminal reaches the
// harness, which then stops it, rather than the server) and, on Linux,
// killed by the kernel if the harness dies without stopping it. It never
// touches a Redis already running on the machine. (The tests' helper,
// invalidation/redistest, does the same for a testing.TB.)
type RedisServer struct {
	cmd     *exec.Cmd
	dir     string
	addr    string
	version string
	exited  chan struct{}
	output  *lockedBuffer
	once    sync.Once
}

// StartRedisServer starts redis-server from PATH and returns once it
// answers PING. It returns an error matching ErrNoRedisServer when there
// is no redis-server to start.
func StartRedisServer(ctx context.Context) (*RedisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w (install it with: %s)", ErrNoRedisServer, RedisInstallHint)
	}
	dir, err := os.MkdirTemp("", "tierbench-redis-")
	if err != nil {
		return nil, fmt.Errorf("bench: redis-server: %w", err)
	}
	// The port is free when chosen but another process may take it before
	// redis-server binds; try a few.
	var lastErr error
	for range 5 {
		port, err := freeLoopbackPort()
		if err != nil {
			lastErr = err
			break
		}
		s, err := startRedisServer(ctx, bin, dir, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("bench: starting redis-server: %w", lastErr)
}

// startRedisServer runs bin on port and waits until it answers PING.
func startRedisServer(ctx context.Context, bin, dir string, port int) (*RedisServer, error) {
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", "",
	)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &RedisServer{cmd: cmd, dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{}), output: out}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = cmd.Process.Kill()
		<-s.exited
		return nil, fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	return s, nil
}

// waitReady pings the server until it answers, it exits, ctx ends or
// redisStartTimeout passes, and reads its version. The pings are raw
// inline commands: a go-redis client would log every refused dial.
func (s *RedisServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if rawPing(ctx, s.addr) == nil {
			c := redis.NewClient(&redis.Options{Addr: s.addr, PoolSize: 1})
			defer c.Close()
			if info, err := c.Info(ctx, "server").Result(); err == nil {
				s.version = infoField(info, "redis_version")
			}
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("redis-server exited before answering PING on %s", s.addr)
		case <-ctx.Done():
			return fmt.Errorf("redis-server did not answer PING on %s: %w", s.addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// rawPing sends one inline PING over a fresh connection.
func rawPing(ctx context.Context, addr string) error {
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

// infoField returns the value of field in the text of an INFO reply.
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// Addr returns the server's host:port.
func (s *RedisServer) Addr() string { return s.addr }

// Version returns the server's version, or "" when it did not say.
func (s *RedisServer) Version() string { return s.version }

// Close kills the server, waits for it to exit and removes its
// directory. It is safe to call more than once.
func (s *RedisServer) Close() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		_ = os.RemoveAll(s.dir)
	})
	return nil
}

// freeLoopbackPort returns a loopback TCP port that was free a moment
// ago, never Redis's default 6379.
func freeLoopbackPort() (int, error) {
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

// lockedBuffer collects a child's output; safe for the copier and a
// reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
