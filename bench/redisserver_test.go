package bench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/internal/redisserver"
)

func TestStartRedisServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartRedisServer(ctx)
	if errors.Is(err, ErrNoRedisServer) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() == "127.0.0.1:6379" || s.Version() == "" {
		t.Errorf("server at %s, version %q: want a free port and a version", s.Addr(), s.Version())
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on the started server: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := redisserver.Ping(ctx, s.Addr()); err == nil {
		t.Error("the server still answers after Close")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("its directory %s is still there (%v)", s.dir, err)
	}
}

func TestStartRedisServerWithoutOne(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := StartRedisServer(context.Background()); !errors.Is(err, ErrNoRedisServer) {
		t.Fatalf("StartRedisServer with an empty PATH = %v, want ErrNoRedisServer", err)
	}
}
