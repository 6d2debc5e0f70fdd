package remotetest

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

func wantConflict(t testing.TB, err error, current uint64) {
	t.Helper()
	if !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("err = %v; want ErrConflict", err)
	}
	var ce *remote.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v; want a *remote.ConflictError", err)
	}
	if ce.Current != current {
		t.Fatalf("ConflictError.Current = %d; want %d", ce.Current, current)
	}
}

func testCreateGet(t *testing.T, e *env) {
	in := e.record(t, "hello")
	in.Version = 42 // ignored
	in.ExpiresAt = in.ExpiresAt.Add(700 * time.Millisecond)
	out, err := e.Store.Create(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantExp := in.ExpiresAt.Truncate(time.Second)
	if out.Key != in.Key || out.Version != 1 || string(out.Data) != "hello" || !out.ExpiresAt.Equal(wantExp) {
		t.Fatalf("Create returned %+v; want version 1, data hello, expiry %v", out, wantExp)
	}
	got := e.mustGet(t, in.Key)
	if got.Key != in.Key || got.Version != 1 || string(got.Data) != "hello" || !got.ExpiresAt.Equal(wantExp) {
		t.Fatalf("Get returned %+v; want %+v", got, out)
	}
	e.mustMiss(t, Key(t))

	empty, err := e.Store.Create(e.ctx, e.record(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.mustGet(t, empty.Key); len(got.Data) != 0 || got.Version != 1 {
		t.Fatalf("empty payload read back as %+v", got)
	}
}

func testCreateExisting(t *testing.T, e *env) {
	rec := e.create(t, "first")
	_, err := e.Store.Create(e.ctx, remote.Record{Key: rec.Key, Data: []byte("second"), ExpiresAt: rec.ExpiresAt})
	wantConflict(t, err, 1)
	if got := e.mustGet(t, rec.Key); string(got.Data) != "first" {
		t.Fatalf("data after failed Create = %q; want first", got.Data)
	}
}

func testPutVersions(t *testing.T, e *env) {
	rec := e.create(t, "v1")
	for v := uint64(1); v < 5; v++ {
		rec.Data = []byte("next")
		out, err := e.Store.Put(e.ctx, rec, v)
		if err != nil {
			t.Fatalf("Put expecting %d: %v", v, err)
		}
		if out.Version != v+1 {
			t.Fatalf("Put expecting %d stored version %d; want %d", v, out.Version, v+1)
		}
		rec = out
	}
	if got := e.mustGet(t, rec.Key); got.Version != 5 || string(got.Data) != "next" {
		t.Fatalf("Get = %+v; want version 5", got)
	}
	_, err := e.Store.Put(e.ctx, rec, 3)
	wantConflict(t, err, 5)
	if got := e.mustGet(t, rec.Key); got.Version != 5 {
		t.Fatalf("a failed Put changed the version to %d", got.Version)
	}
}

func testPutErrors(t *testing.T, e *env) {
	absent := e.record(t, "x")
	if _, err := e.Store.Put(e.ctx, absent, 1); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Put on an absent key: err = %v; want ErrNotFound", err)
	}
	rec := e.create(t, "x")
	if _, err := e.Store.Put(e.ctx, rec, 0); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("Put expecting version 0: err = %v; want ErrInvalid", err)
	}
}

func testDelete(t *testing.T, e *env) {
	tests := []struct {
		name     string
		expected uint64
		wantErr  error
		wantGone bool
	}{
		{"unconditional", 0, nil, true},
		{"matching version", 1, nil, true},
		{"stale version", 7, remote.ErrConflict, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.create(t, "x")
			err := e.Store.Delete(e.ctx, rec.Key, tt.expected)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Delete: err = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				wantConflict(t, err, 1)
			}
			_, found, err := e.Store.Get(e.ctx, rec.Key)
			if err != nil || found == tt.wantGone {
				t.Fatalf("after Delete: found %v, err %v; want gone=%v", found, err, tt.wantGone)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		for _, v := range []uint64{0, 3} {
			if err := e.Store.Delete(e.ctx, Key(t), v); err != nil {
				t.Fatalf("Delete(absent, %d) = %v; want nil", v, err)
			}
		}
	})
	t.Run("recreate", func(t *testing.T) {
		rec := e.create(t, "x")
		if err := e.Store.Delete(e.ctx, rec.Key, 1); err != nil {
			t.Fatal(err)
		}
		again, err := e.Store.Create(e.ctx, rec)
		if err != nil || again.Version != 1 {
			t.Fatalf("Create after Delete = %+v, %v; want version 1", again, err)
		}
	})
}

func testTouch(t *testing.T, e *env) {
	rec := e.create(t, "payload")
	later := rec.ExpiresAt.Add(2 * time.Hour)
	out, err := e.Store.Touch(e.ctx, rec.Key, later)
	if err != nil {
		t.Fatal(err)
	}
	if !out.ExpiresAt.Equal(later) || out.Version != 1 || string(out.Data) != "payload" {
		t.Fatalf("Touch returned %+v; want expiry %v, version 1, same data", out, later)
	}
	// An earlier expiry never shortens the record.
	out, err = e.Store.Touch(e.ctx, rec.Key, rec.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if !out.ExpiresAt.Equal(later) {
		t.Fatalf("Touch to an earlier time returned expiry %v; want %v kept", out.ExpiresAt, later)
	}
	if got := e.mustGet(t, rec.Key); !got.ExpiresAt.Equal(later) || got.Version != 1 {
		t.Fatalf("Get after Touch = %+v", got)
	}
	if _, err := e.Store.Touch(e.ctx, Key(t), later); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Touch on an absent key: err = %v; want ErrNotFound", err)
	}
	// Touch does not conflict with, nor disturb, version-checked writes.
	if _, err := e.Store.Put(e.ctx, out, 1); err != nil {
		t.Fatalf("Put after Touch: %v", err)
	}
}

func testExpiry(t *testing.T, e *env) {
	rec := e.record(t, "short")
	rec.ExpiresAt = e.clock.Now().Add(10 * time.Second)
	rec, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(9 * time.Second)
	e.mustGet(t, rec.Key)
	e.clock.Advance(time.Second) // ExpiresAt == now: expired
	e.mustMiss(t, rec.Key)
	rec.ExpiresAt = e.clock.Now().Add(time.Hour)
	if _, err := e.Store.Put(e.ctx, rec, 1); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Put on an expired record: err = %v; want ErrNotFound", err)
	}
	if _, err := e.Store.Touch(e.ctx, rec.Key, e.clock.Now().Add(time.Hour)); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Touch on an expired record: err = %v; want ErrNotFound", err)
	}
	if err := e.Store.Delete(e.ctx, rec.Key, 9); err != nil {
		t.Fatalf("conditional Delete of an expired record = %v; want nil (absent)", err)
	}
	again, err := e.Store.Create(e.ctx, rec)
	if err != nil || again.Version != 1 {
		t.Fatalf("Create over an expired record = %+v, %v; want version 1", again, err)
	}
}

func testConcurrentWriters(t *testing.T, e *env) {
	const writers = 8
	rec := e.create(t, "start")
	for round := uint64(1); round <= 3; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins []remote.Record
		conflicts := 0
		start := make(chan struct{})
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rec
				r.Data = []byte{byte(w)}
				<-start
				out, err := e.Store.Put(e.ctx, r, round)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins = append(wins, out)
				case errors.Is(err, remote.ErrConflict):
					conflicts++
				default:
					t.Errorf("Put: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(wins) != 1 || conflicts != writers-1 {
			t.Fatalf("round %d: %d winners, %d conflicts; want exactly 1 winner", round, len(wins), conflicts)
		}
		got := e.mustGet(t, rec.Key)
		if got.Version != round+1 || !bytes.Equal(got.Data, wins[0].Data) {
			t.Fatalf("round %d: stored %+v; want the winner's write %+v", round, got, wins[0])
		}
	}
}

func testTooLarge(t *testing.T, e *env) {
	rec := e.record(t, "")
	max := remote.MaxDataSize(rec.Key)
	before := e.Requests()
	rec.Data = bytes.Repeat([]byte{'a'}, max+1)
	if _, err := e.Store.Create(e.ctx, rec); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("Create of %d bytes: err = %v; want ErrTooLarge", len(rec.Data), err)
	}
	if _, err := e.Store.Put(e.ctx, rec, 1); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("Put of %d bytes: err = %v; want ErrTooLarge", len(rec.Data), err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Fatalf("oversized writes sent %d requests; want none", n)
	}
	rec.Data = rec.Data[:max]
	out, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatalf("Create of MaxDataSize bytes: %v", err)
	}
	if got := e.mustGet(t, out.Key); len(got.Data) != max {
		t.Fatalf("read back %d bytes; want %d", len(got.Data), max)
	}
}

func testInvalid(t *testing.T, e *env) {
	now := e.clock.Now()
	tests := []struct {
		name string
		rec  remote.Record
	}{
		{"empty key", remote.Record{ExpiresAt: now.Add(time.Hour)}},
		{"zero expiry", remote.Record{Key: Key(t)}},
		{"past expiry", remote.Record{Key: Key(t), ExpiresAt: now.Add(-time.Second)}},
		{"expiry within this second", remote.Record{Key: Key(t), ExpiresAt: now.Add(500 * time.Millisecond)}},
		{"huge key", remote.Record{Key: strings.Repeat("k", 2000), ExpiresAt: now.Add(time.Hour)}},
	}
	before := e.Requests()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Store.Create(e.ctx, tt.rec); !errors.Is(err, remote.ErrInvalid) {
				t.Fatalf("Create: err = %v; want ErrInvalid", err)
			}
		})
	}
	if _, _, err := e.Store.Get(e.ctx, ""); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("Get(\"\"): err = %v; want ErrInvalid", err)
	}
	if err := e.Store.Delete(e.ctx, "", 0); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("Delete(\"\"): err = %v; want ErrInvalid", err)
	}
	if _, err := e.Store.Touch(e.ctx, Key(t), time.Time{}); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("Touch to zero time: err = %v; want ErrInvalid", err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Fatalf("invalid calls sent %d requests; want none", n)
	}
}

func testCorrupt(t *testing.T, e *env) {
	key := Key(t)
	e.Corrupt(t, key)
	rec, found, err := e.Store.Get(e.ctx, key)
	if !errors.Is(err, remote.ErrCorrupt) {
		t.Fatalf("Get of a corrupt item = %+v, found %v, err %v; want ErrCorrupt", rec, found, err)
	}
	if found || rec.Key != "" || rec.Data != nil {
		t.Fatalf("Get of a corrupt item returned found=%v, %+v; want nothing", found, rec)
	}
}

func testLostResponse(t *testing.T, e *env) {
	rec := e.record(t, "v1")
	e.LoseNextResponse()
	out, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatalf("Create whose first response was lost: %v; want success settled by write id", err)
	}
	if out.Version != 1 {
		t.Fatalf("Create returned version %d; want 1", out.Version)
	}
	out.Data = []byte("v2")
	e.LoseNextResponse()
	out, err = e.Store.Put(e.ctx, out, 1)
	if err != nil {
		t.Fatalf("Put whose first response was lost: %v; want success settled by write id", err)
	}
	if out.Version != 2 {
		t.Fatalf("Put returned version %d; want 2", out.Version)
	}
	if got := e.mustGet(t, rec.Key); got.Version != 2 || string(got.Data) != "v2" {
		t.Fatalf("stored %+v; want version 2 exactly once", got)
	}
	// Another writer's write at the expected+1 version is still a conflict.
	other := got(t, e, rec.Key)
	other.Data = []byte("v3")
	if _, err := e.Store.Put(e.ctx, other, 2); err != nil {
		t.Fatal(err)
	}
	out.Data = []byte("late")
	_, err = e.Store.Put(e.ctx, out, 2)
	wantConflict(t, err, 3)
}

func got(t *testing.T, e *env, key string) remote.Record { t.Helper(); return e.mustGet(t, key) }

func testDataIsolation(t *testing.T, e *env) {
	rec := e.record(t, "abc")
	out, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Data[0] = 'X'
	out.Data[1] = 'Y'
	first := e.mustGet(t, rec.Key)
	first.Data[2] = 'Z'
	if got := e.mustGet(t, rec.Key); string(got.Data) != "abc" {
		t.Fatalf("stored data changed through a caller's slice: %q", got.Data)
	}
}

// testGetConsistent checks the optional ConsistentGetter against Get's
// contract; an implementation without it has nothing to check.
func testGetConsistent(t *testing.T, e *env) {
	cg, ok := e.Store.(remote.ConsistentGetter)
	if !ok {
		t.Skip("the store does not implement remote.ConsistentGetter")
	}
	rec := e.create(t, "v1")
	rec.Data = []byte("v2")
	if _, err := e.Store.Put(e.ctx, rec, 1); err != nil {
		t.Fatal(err)
	}
	got, found, err := cg.GetConsistent(e.ctx, rec.Key)
	if err != nil || !found || got.Version != 2 || string(got.Data) != "v2" {
		t.Fatalf("GetConsistent = %+v, found %v, err %v; want version 2", got, found, err)
	}
	if _, found, err := cg.GetConsistent(e.ctx, Key(t)); found || err != nil {
		t.Fatalf("GetConsistent of an absent key: found %v, err %v", found, err)
	}
	e.clock.Advance(time.Hour)
	if _, found, err := cg.GetConsistent(e.ctx, rec.Key); found || err != nil {
		t.Fatalf("GetConsistent of an expired record: found %v, err %v", found, err)
	}
}
