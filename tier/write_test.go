package tier_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

func TestConflictBetweenNodes(t *testing.T) {
	f := newFixture()
	a := f.store(t, nil, tier.Options{})
	b := f.store(t, nil, tier.Options{})
	rec, err := a.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	fromB := mustGet(t, b, rec.Key)
	rec.Data = []byte("from a")
	if _, err := a.Save(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	fromB.Data = []byte("from b")
	_, err = b.Save(f.ctx, fromB)
	if !errors.Is(err, tier.ErrConflict) {
		t.Fatalf("Save on a stale copy: err = %v; want ErrConflict", err)
	}
	// The conflict dropped b's stale copy: its next read sees a's write.
	if got := mustGet(t, b, rec.Key); got.Version != 2 || string(got.Data) != "from a" {
		t.Fatalf("b after the conflict reads %+v; want a's version 2", got)
	}
	if st := b.Stats(); st.Conflicts != 1 {
		t.Fatalf("b counted %d conflicts; want 1", st.Conflicts)
	}
}

func TestUpdateNoLostUpdates(t *testing.T) {
	f := newFixture()
	nodes := []*tier.Store{
		f.store(t, nil, tier.Options{MaxUpdateRetries: 100}),
		f.store(t, nil, tier.Options{MaxUpdateRetries: 100}),
	}
	rec := f.record(t, "")
	rec.Data = binary.AppendUvarint(nil, 0)
	rec, err := nodes[0].Create(f.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	const workers, increments = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := nodes[w%len(nodes)]
			for range increments {
				_, err := s.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) {
					n, _ := binary.Uvarint(r.Data)
					r.Data = binary.AppendUvarint(r.Data[:0], n+1)
					return r, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, found, err := f.remote.Get(f.ctx, rec.Key)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	n, _ := binary.Uvarint(got.Data)
	if n != workers*increments || got.Version != workers*increments+1 {
		t.Fatalf("counter = %d at version %d; want %d at %d", n, got.Version, workers*increments, workers*increments+1)
	}
}

func TestUpdateErrors(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{MaxUpdateRetries: 2})
	if _, err := s.Update(f.ctx, "absent", func(r tier.Record) (tier.Record, error) { return r, nil }); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("Update of a missing key: err = %v; want ErrNotFound", err)
	}
	rec, err := s.Create(f.ctx, f.record(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) { return r, boom }); !errors.Is(err, boom) {
		t.Fatalf("Update whose fn fails: err = %v; want fn's error", err)
	}
	// Every attempt loses to a writer that gets in between: Update gives up
	// after 1+MaxUpdateRetries attempts with ErrConflict.
	other := f.store(t, nil, tier.Options{})
	calls := 0
	_, err = s.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) {
		calls++
		if _, err := other.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) { return r, nil }); err != nil {
			t.Fatal(err)
		}
		r.Data[0] = 'y' // a private copy: must not reach the cache
		return r, nil
	})
	if !errors.Is(err, tier.ErrConflict) || calls != 3 {
		t.Fatalf("Update against a constant writer: err = %v after %d calls; want ErrConflict after 3", err, calls)
	}
	if got := mustGet(t, s, rec.Key); string(got.Data) != "x" {
		t.Fatalf("Update's fn wrote through to the cache: %q", got.Data)
	}
}

func TestTouchThrottle(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{TouchInterval: time.Minute})
	rec, err := s.Create(f.ctx, f.record(t, "x")) // expires in 1h
	if err != nil {
		t.Fatal(err)
	}
	before := f.remote.Requests()
	got, err := s.Touch(f.ctx, rec.Key, rec.ExpiresAt.Add(30*time.Second))
	if err != nil || !got.ExpiresAt.Equal(rec.ExpiresAt) {
		t.Fatalf("throttled Touch = %+v, %v", got, err)
	}
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("a Touch within TouchInterval wrote %d times; want 0", n)
	}
	later := rec.ExpiresAt.Add(2 * time.Minute)
	got, err = s.Touch(f.ctx, rec.Key, later)
	if err != nil || !got.ExpiresAt.Equal(later) || got.Version != 1 {
		t.Fatalf("Touch = %+v, %v; want expiry %v at version 1", got, err, later)
	}
	if n := f.remote.Requests() - before; n != 1 {
		t.Fatalf("a Touch beyond TouchInterval wrote %d times; want 1", n)
	}
	if g := mustGet(t, s, rec.Key); !g.ExpiresAt.Equal(later) {
		t.Fatalf("local copy after Touch expires %v; want %v", g.ExpiresAt, later)
	}
	if st := s.Stats(); st.TouchSkipped != 1 {
		t.Fatalf("TouchSkipped = %d; want 1", st.TouchSkipped)
	}
}

// flakyRemote applies a write and then reports its outcome as unknown.
type flakyRemote struct{ remote.Store }

func (r flakyRemote) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	if _, err := r.Store.Put(ctx, rec, expected); err != nil {
		return remote.Record{}, err
	}
	return remote.Record{}, fmt.Errorf("%w: lost", remote.ErrUnknownOutcome)
}

func TestUnknownOutcomeEvicts(t *testing.T) {
	f := newFixture()
	s := f.store(t, flakyRemote{f.remote}, tier.Options{})
	rec, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	rec.Data = []byte("v2")
	if _, err := s.Save(f.ctx, rec); !errors.Is(err, tier.ErrUnknownOutcome) {
		t.Fatalf("Save: err = %v; want ErrUnknownOutcome", err)
	}
	// The write landed; the stale v1 copy must not be served.
	if got := mustGet(t, s, rec.Key); got.Version != 2 {
		t.Fatalf("Get after an unknown outcome = %+v; want the remote's version 2", got)
	}
}

func TestDelete(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	rec, err := s.Create(f.ctx, f.record(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(f.ctx, rec.Key, 7); !errors.Is(err, tier.ErrConflict) {
		t.Fatalf("Delete of a wrong version: err = %v; want ErrConflict", err)
	}
	if err := s.Delete(f.ctx, rec.Key, 1); err != nil {
		t.Fatal(err)
	}
	before := f.remote.Requests()
	if _, found, err := s.Get(f.ctx, rec.Key); found || err != nil {
		t.Fatalf("Get after Delete: found %v, err %v", found, err)
	}
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("Get right after Delete read the remote %d times; want the cached deletion", n)
	}
}

func TestClosed(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	rec, err := s.Create(context.Background(), f.record(t, "cached"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	ctx := context.Background()
	for _, key := range []string{rec.Key, "uncached"} {
		if _, _, err := s.Get(ctx, key); !errors.Is(err, tier.ErrClosed) {
			t.Fatalf("Get(%q) after Close: %v", key, err)
		}
	}
	if _, err := s.Create(ctx, f.record(t, "x")); !errors.Is(err, tier.ErrClosed) {
		t.Fatalf("Create after Close: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	f := newFixture()
	for name, o := range map[string]tier.Options{
		"negative capacity": {LocalCapacity: -1},
		"negative byte cap": {LocalMaxBytes: -1},
		"negative ttl":      {LocalTTL: -time.Second},
		"negative retries":  {MaxUpdateRetries: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tier.New(f.remote, o); !errors.Is(err, tier.ErrBadOptions) {
				t.Fatalf("New = %v; want ErrBadOptions", err)
			}
		})
	}
	if _, err := tier.New(nil, tier.Options{}); !errors.Is(err, tier.ErrBadOptions) {
		t.Fatalf("New(nil) = %v; want ErrBadOptions", err)
	}
}

func TestDeleteBeatsReadInFlight(t *testing.T) {
	f := newFixture()
	rec, g, s := f.laggingStore(t, "x")

	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		s.Get(f.ctx, rec.Key)
	}()
	g.waitEntered(t, 1)
	if err := s.Delete(f.ctx, rec.Key, 1); err != nil {
		t.Fatal(err)
	}
	g.open()
	<-loadDone
	if got, found, err := s.Get(f.ctx, rec.Key); found || err != nil {
		t.Fatalf("after Delete, a read that was in flight brought back %+v (err %v)", got, err)
	}
}

// consistentSplit is a splitRemote whose consistent reads see the truth.
type consistentSplit struct{ *splitRemote }

func (c consistentSplit) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	return c.splitRemote.Store.Get(ctx, key)
}

func TestUpdateReloadsConsistently(t *testing.T) {
	for _, tc := range []struct {
		name       string
		consistent bool
	}{{"with GetConsistent", true}, {"eventual reads only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			rec, g, _ := f.laggingStore(t, "v1") // reads stay at version 1 forever
			g.open()
			var r remote.Store = &splitRemote{Store: f.remote, reads: g}
			if tc.consistent {
				r = consistentSplit{&splitRemote{Store: f.remote, reads: g}}
			}
			s := f.store(t, r, tier.Options{MaxUpdateRetries: 3})
			rec.Data = []byte("v2 elsewhere")
			if _, err := f.remote.Put(f.ctx, rec, 1); err != nil {
				t.Fatal(err)
			}
			out, err := s.Update(f.ctx, rec.Key, func(r tier.Record) (tier.Record, error) {
				r.Data = append(r.Data, '+')
				return r, nil
			})
			if tc.consistent {
				if err != nil || out.Version != 3 || string(out.Data) != "v2 elsewhere+" {
					t.Fatalf("Update = %+v, %v; want version 3 built on the other write", out, err)
				}
				if st := s.Stats(); st.UpdateRetries != 1 {
					t.Fatalf("UpdateRetries = %d; want 1", st.UpdateRetries)
				}
				return
			}
			// Without consistent reads every reload returns the stale
			// version: the loop can only give up.
			if !errors.Is(err, tier.ErrConflict) {
				t.Fatalf("Update over lagging reads = %+v, %v; want ErrConflict", out, err)
			}
		})
	}
}
