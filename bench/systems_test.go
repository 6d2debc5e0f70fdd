package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

// checkSessionStore runs the request semantics every system must share:
// read, versioned save, conflict on a stale version, read-modify-write,
// touch, and absent sessions.
func checkSessionStore(t *testing.T, st sessionStore, key string) {
	t.Helper()
	ctx := context.Background()
	rec, found, err := st.Get(ctx, key)
	if err != nil || !found || rec.Version != 1 {
		t.Fatalf("Get(preloaded) = v%d, %v, %v; want version 1", rec.Version, found, err)
	}
	next := rec
	next.Data = []byte("second")
	next.ExpiresAt = time.Now().Add(time.Hour)
	saved, err := st.Save(ctx, next)
	if err != nil || saved.Version != 2 {
		t.Fatalf("Save at v1 = v%d, %v; want version 2", saved.Version, err)
	}
	if _, err := st.Save(ctx, next); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("Save at stale v1 = %v, want ErrConflict", err)
	}
	updated, err := st.Update(ctx, key, func(r remote.Record) (remote.Record, error) {
		r.Data = append(r.Data, '!')
		return r, nil
	})
	if err != nil || updated.Version != 3 {
		t.Fatalf("Update = v%d, %v; want version 3", updated.Version, err)
	}
	got, found, err := st.Get(ctx, key)
	if err != nil || !found || string(got.Data) != "second!" || got.Version != 3 {
		t.Fatalf("Get after Update = %q v%d, %v, %v; want \"second!\" v3", got.Data, got.Version, found, err)
	}
	if _, err := st.Touch(ctx, key, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if _, found, err := st.Get(ctx, "absent"); found || err != nil {
		t.Fatalf("Get(absent) = %v, %v; want not found", found, err)
	}
	if _, err := st.Touch(ctx, "absent", time.Now().Add(time.Hour)); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Touch(absent) = %v, want ErrNotFound", err)
	}
	if _, err := st.Update(ctx, "absent", func(r remote.Record) (remote.Record, error) { return r, nil }); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Update(absent) = %v, want ErrNotFound", err)
	}
}

func TestSystemsOverTheRemote(t *testing.T) {
	tests := []struct {
		name  string
		build func(m *Meter) (*system, error)
	}{
		{"remote-only", func(m *Meter) (*system, error) { return newRemoteOnly(m, "memory"), nil }},
		{"tiered", func(m *Meter) (*system, error) {
			return newTiered("t", "", m, 1, 10, tierOptions(DefaultConfig()), nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := remote.NewMemory(remote.MemoryOptions{})
			set := newSessionSet(4, 16, 1, time.Now())
			if err := preload(context.Background(), mem, set, 2, nil); err != nil {
				t.Fatal(err)
			}
			m := NewMeter(mem)
			sys, err := tc.build(m)
			if err != nil {
				t.Fatal(err)
			}
			defer sys.close()
			checkSessionStore(t, sys.nodes[0], set.keys[0])
			// One failed version check: the stale Save.
			if c := sys.counts(); c.Conflicts != 1 || c.Reads == 0 || c.Writes < 3 {
				t.Errorf("remote counts %+v, want 1 conflict, reads and at least 3 writes", c)
			}
		})
	}
}

func TestUpdateLoopGivesUp(t *testing.T) {
	calls := 0
	get := func(context.Context, string) (remote.Record, bool, error) {
		return remote.Record{Key: "k", Version: 1}, true, nil
	}
	save := func(context.Context, remote.Record) (remote.Record, error) {
		calls++
		return remote.Record{}, &remote.ConflictError{Expected: 1, Current: 2}
	}
	_, err := updateLoop(context.Background(), "k", get, save, func(r remote.Record) (remote.Record, error) { return r, nil })
	if !errors.Is(err, errTooManyConflicts) || calls != maxUpdateAttempts {
		t.Errorf("updateLoop = %v after %d saves, want errTooManyConflicts after %d", err, calls, maxUpdateAttempts)
	}
}

func TestPreloadIsRepeatable(t *testing.T) {
	// A second preload over the same sessions (a table kept from an
	// earlier run) succeeds, and one with another payload size rewrites
	// the sessions to that size.
	ctx := context.Background()
	mem := remote.NewMemory(remote.MemoryOptions{})
	base := time.Now()
	if err := preload(ctx, mem, newSessionSet(50, 16, 1, base), 4, nil); err != nil {
		t.Fatal(err)
	}
	if err := preload(ctx, mem, newSessionSet(50, 16, 1, base), 4, nil); err != nil {
		t.Fatalf("second preload: %v", err)
	}
	var calls int
	if err := preload(ctx, mem, newSessionSet(50, 32, 1, base), 4, func(int64) { calls++ }); err != nil {
		t.Fatalf("preload with a new size: %v", err)
	}
	if calls == 0 {
		t.Error("preload never reported progress")
	}
	rec, found, err := mem.Get(ctx, SessionKey(49))
	if err != nil || !found || len(rec.Data) != 32 || rec.Version != 2 {
		t.Errorf("session 49 after resize: %d bytes v%d (%v, %v), want 32 bytes v2", len(rec.Data), rec.Version, found, err)
	}
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(nil)
	set := newSessionSet(4, 16, 1, time.Now())
	rs := &redisStore{c: client}
	if err := rs.preload(context.Background(), set.keys, set.data, set.expiry); err != nil {
		t.Fatal(err)
	}
	sys := newRedisSystem(rs, "")
	checkSessionStore(t, sys.nodes[0], set.keys[0])
	if c := sys.counts(); c.Conflicts != 1 || c.Reads < 4 || c.Writes < 3 {
		t.Errorf("redis counts %+v, want 1 conflict and every request counted", c)
	}
	if err := sys.close(); err != nil {
		t.Fatal(err)
	}
	if err := rs.cleanup(context.Background(), set.keys); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(context.Background(), redisKeyPrefix+set.keys[1]).Result(); err != nil || n != 0 {
		t.Errorf("after close, session still in Redis (%d, %v)", n, err)
	}
}

func TestRunWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	cfg := tinyConfig()
	cfg.Redis, cfg.SkipSweep, cfg.Workload = srv.Addr(), true, "web"
	rep, _ := runTiny(t, cfg)
	names := make([]string, len(rep.Systems))
	for i, s := range rep.Systems {
		names[i] = s.Name
	}
	if len(names) != 4 || names[2] != "tiered-3" || names[3] != SystemRedis {
		t.Fatalf("systems %v, want remote-only, tiered-1, tiered-3, redis", names)
	}
	if rep.Config.Bus != "redis" {
		t.Errorf("bus %q, want redis", rep.Config.Bus)
	}
	r := rep.Systems[3]
	if r.Ops <= 0 || r.Errors != 0 || r.Missing != 0 {
		t.Errorf("redis: %d ops, %d errors, %d missing", r.Ops, r.Errors, r.Missing)
	}
	if r.CostPerMillionOps != nil || r.VsRemoteOnly.Cost != nil {
		t.Errorf("redis has a DynamoDB cost: %v", r.CostPerMillionOps)
	}
	if r.RemoteReadsPer1000 != 1000 {
		t.Errorf("redis: %.1f reads per 1000 ops, want 1000 (one per request)", r.RemoteReadsPer1000)
	}
	for _, s := range rep.Systems {
		if s.Errors != 0 || s.Missing != 0 {
			t.Errorf("%s: %d errors, %d missing", s.Name, s.Errors, s.Missing)
		}
	}
}

func TestMain(m *testing.M) { dynamotest.Run(m) }

func TestRunOnDynalite(t *testing.T) {
	client := dynamotest.NewClient(t, dynamotest.Endpoint(t))
	table := dynamotest.NewTable(t, client)
	d, err := remote.NewDynamo(client, remote.DynamoOptions{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	cfg.Remote, cfg.RemoteName = d, "dynalite"
	cfg.Sessions, cfg.MaxOps, cfg.SkipSweep, cfg.Nodes = 200, 300, true, 2
	rep, _ := runTiny(t, cfg)
	if len(rep.Systems) != 3 || rep.Config.Remote != "dynalite" || rep.Config.Latency.Description != "no added latency" {
		t.Fatalf("%d systems on %q with latency %q", len(rep.Systems), rep.Config.Remote, rep.Config.Latency.Description)
	}
	for _, s := range rep.Systems {
		if s.Ops <= 0 || s.Errors != 0 || s.Missing != 0 {
			t.Errorf("%s: %d ops, %d errors, %d missing", s.Name, s.Ops, s.Errors, s.Missing)
		}
	}
	base, tiered := rep.Systems[0], rep.Systems[1]
	if base.RemoteReadsPer1000 != 1000 || tiered.RemoteReadsPer1000 >= base.RemoteReadsPer1000 {
		t.Errorf("remote reads per 1000 ops: remote-only %.0f (want 1000), tiered %.0f (want fewer)",
			base.RemoteReadsPer1000, tiered.RemoteReadsPer1000)
	}
}
