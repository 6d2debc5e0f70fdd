package redisserver

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lookBin returns redis-server's path, skipping the test without one, or
// failing it under CI=true.
func lookBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not on PATH: %v", err)
		}
		t.Skipf("redis-server not on PATH: %v", err)
	}
	return bin
}

// start starts a server for t, stopped when t ends.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Stop)
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// testCtx bounds one step of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartStopRestart(t *testing.T) {
	for _, group := range []bool{false, true} {
		name := "same process group"
		if group {
			name = "own process group"
		}
		t.Run(name, func(t *testing.T) {
			s := start(t, Options{Bin: lookBin(t), Dir: t.TempDir(), OwnProcessGroup: group})
			addr := s.Addr()
			if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":6379") {
				t.Fatalf("Addr() = %s, want a loopback port other than the system Redis's", addr)
			}
			if err := Ping(testCtx(t), addr); err != nil {
				t.Fatalf("PING on a started server: %v", err)
			}
			if !strings.Contains(s.Output(), "Ready to accept connections") {
				t.Errorf("Output() = %q, want redis-server's log", s.Output())
			}

			s.Stop()
			s.Stop() // a second Stop is harmless
			if err := Ping(testCtx(t), addr); err == nil {
				t.Fatal("PING succeeded on a stopped server")
			}

			if err := s.Restart(testCtx(t)); err != nil {
				t.Fatalf("Restart: %v", err)
			}
			if s.Addr() != addr {
				t.Fatalf("Addr() after Restart = %s, want %s", s.Addr(), addr)
			}
			if err := Ping(testCtx(t), addr); err != nil {
				t.Fatalf("PING after Restart: %v", err)
			}
			if err := s.Restart(testCtx(t)); err != nil { // Restart of a running server
				t.Fatalf("second Restart: %v", err)
			}
			if err := Ping(testCtx(t), addr); err != nil {
				t.Fatalf("PING after the second Restart: %v", err)
			}
		})
	}
}

func TestTwoServersGetDistinctPorts(t *testing.T) {
	bin := lookBin(t)
	a := start(t, Options{Bin: bin, Dir: t.TempDir()})
	b := start(t, Options{Bin: bin, Dir: t.TempDir()})
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
}

func TestMisuse(t *testing.T) {
	s := New(Options{Bin: lookBin(t), Dir: t.TempDir()})
	if err := s.Restart(testCtx(t)); err == nil {
		t.Error("Restart before Start succeeded")
	}
	s.Stop() // Stop before Start does nothing
	t.Cleanup(s.Stop)
	if err := s.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := s.Start(testCtx(t)); err == nil {
		t.Error("a second Start succeeded")
	}
}

func TestStartFailures(t *testing.T) {
	t.Run("no such binary", func(t *testing.T) {
		s := New(Options{Bin: t.TempDir() + "/redis-server", Dir: t.TempDir()})
		if err := s.Start(testCtx(t)); err == nil {
			t.Fatal("Start of a missing binary succeeded")
		}
	})
	t.Run("server exits at once", func(t *testing.T) {
		s := New(Options{Bin: lookBin(t), Dir: t.TempDir() + "/missing"})
		err := s.Start(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), "exited before answering PING") {
			t.Fatalf("Start in a missing directory = %v, want an early exit", err)
		}
		s.Stop() // harmless after a failed Start
	})
	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := New(Options{Bin: lookBin(t), Dir: t.TempDir()})
		if err := s.Start(ctx); err == nil {
			s.Stop()
			t.Fatal("Start with an ended context succeeded")
		}
	})
}
