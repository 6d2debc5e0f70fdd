package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/internal/redisserver"
)

// RedisInstallHint tells how to get redis-server on Debian and Ubuntu.
const RedisInstallHint = "apt-get install -y redis-server"

// ErrNoRedisServer is returned by StartRedisServer when redis-server is
// not on PATH.
var ErrNoRedisServer = errors.New("bench: redis-server is not on PATH")

// RedisServer is a throwaway redis-server the harness started for one run:
// on a free 127.0.0.1 port, without persistence, in a directory of its
// own, in its own process group (a Ctrl-C at the terminal reaches the
// harness, which then stops it, rather than the server) and, on Linux,
// killed by the kernel if the harness dies without stopping it. It never
// touches a Redis already running on the machine. (internal/redisserver
// runs it; the tests' helper, invalidation/redistest, uses the same.)
type RedisServer struct {
	srv     *redisserver.Server
	dir     string
	version string
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
	srv := redisserver.New(redisserver.Options{Bin: bin, Dir: dir, OwnProcessGroup: true})
	if err := srv.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: starting redis-server: %w", err)
	}
	return &RedisServer{srv: srv, dir: dir, version: redisVersion(ctx, srv.Addr())}, nil
}

// redisVersion asks the server at addr for its version, or returns "" when
// it does not say.
func redisVersion(ctx context.Context, addr string) string {
	ctx, cancel := context.WithTimeout(ctx, redisserver.StartTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	return infoField(info, "redis_version")
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
func (s *RedisServer) Addr() string { return s.srv.Addr() }

// Version returns the server's version, or "" when it did not say.
func (s *RedisServer) Version() string { return s.version }

// Close kills the server, waits for it to exit and removes its
// directory. It is safe to call more than once.
func (s *RedisServer) Close() error {
	s.once.Do(func() {
		s.srv.Stop()
		_ = os.RemoveAll(s.dir)
	})
	return nil
}
