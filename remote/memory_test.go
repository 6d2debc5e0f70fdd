package remote_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
)

func TestConformanceMemory(t *testing.T) {
	remotetest.Run(t, remotetest.Harness{
		Name: "memory",
		New: func(t testing.TB, now func() time.Time) remotetest.Target {
			m := remote.NewMemory(remote.MemoryOptions{Now: now})
			return remotetest.Target{
				Store:            m,
				Corrupt:          func(_ testing.TB, key string) { m.Corrupt(key) },
				LoseNextResponse: m.LoseNextResponse,
				Requests:         m.Requests,
				Owners:           true,
				CreateHook:       func(h func(string)) { remote.SetCreateHook(m, h) },
			}
		},
	})
}

func TestMemoryLatency(t *testing.T) {
	var mu sync.Mutex
	var calls []bool
	m := remote.NewMemory(remote.MemoryOptions{Latency: func(write bool) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, write)
		return time.Microsecond
	}})
	ctx := context.Background()
	rec, err := m.Create(ctx, remote.Record{Key: "k", Data: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, rec, 1); err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true}; !slices.Equal(calls, want) {
		t.Fatalf("latency model called with write = %v; want %v", calls, want)
	}

	// A request whose latency would be an hour ends with its context.
	slow := remote.NewMemory(remote.MemoryOptions{Latency: func(bool) time.Duration { return time.Hour }})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := slow.Get(cctx, "k")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get under a cancelled context: %v; want context.Canceled", err)
	}
}
