package tier_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
)

func TestReadThrough(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	rec, err := s.Create(f.ctx, f.record(t, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	other := f.store(t, nil, tier.Options{}) // a cold node
	before := f.remote.Requests()
	for range 3 {
		if got := mustGet(t, other, rec.Key); got.Version != 1 || string(got.Data) != "hello" {
			t.Fatalf("Get = %+v", got)
		}
	}
	if n := f.remote.Requests() - before; n != 1 {
		t.Fatalf("3 Gets on a cold node made %d remote requests; want 1", n)
	}
	st := other.Stats()
	if st.LocalHits != 2 || st.LocalMisses < 1 || st.RemoteRequests(0) != 1 {
		t.Fatalf("stats = hits %d misses %d remote gets %d; want 2, >=1, 1", st.LocalHits, st.LocalMisses, st.RemoteRequests(0))
	}
}

func TestReadYourWrites(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	rec, err := s.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	before := f.remote.Requests()
	for v := uint64(1); v <= 3; v++ {
		rec.Data = []byte{byte('a' + v)}
		rec, err = s.Save(f.ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, rec.Key); got.Version != v+1 || string(got.Data) != string(rec.Data) {
			t.Fatalf("Get after Save = %+v; want version %d", got, v+1)
		}
	}
	if n := f.remote.Requests() - before; n != 3 {
		t.Fatalf("3 Saves and 3 Gets made %d remote requests; want 3 (reads served locally)", n)
	}
}

func TestSingleflight(t *testing.T) {
	f := newFixture()
	rec, err := f.remote.Create(f.ctx, f.record(t, "shared"))
	if err != nil {
		t.Fatal(err)
	}
	g := newGated(f.remote)
	s := f.store(t, g, tier.Options{})

	// The first caller starts the flight and then gives up; the others
	// must still get the record from that one read.
	firstCtx, cancelFirst := context.WithCancel(f.ctx)
	firstErr := make(chan error, 1)
	go func() {
		_, _, err := s.Get(firstCtx, rec.Key)
		firstErr <- err
	}()
	g.waitEntered(t, 1)

	const callers = 100
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	started := make(chan struct{}, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			got, found, err := s.Get(f.ctx, rec.Key)
			if err == nil && (!found || got.Version != 1) {
				err = errors.New("wrong record")
			}
			errs <- err
		}()
	}
	for range callers {
		<-started
	}
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v; want context.Canceled", err)
	}
	g.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := g.gets.Load(); n != 1 {
		t.Fatalf("%d concurrent Gets made %d remote reads; want 1", callers+1, n)
	}
	// Callers that joined the flight count as shared loads, later ones as
	// hits (or, when they missed just before the install, find the record
	// on the flight's second look); none of them read the remote.
	if st := s.Stats(); st.SharedLoads+st.LocalHits > callers || st.RemoteRequests(0) != 1 {
		t.Fatalf("shared %d, hits %d, remote gets %d; want at most %d and 1", st.SharedLoads, st.LocalHits, st.RemoteRequests(0), callers)
	}
}

func TestSlowLoadNeverOverwritesNewerWrite(t *testing.T) {
	f := newFixture()
	// A load reads version 1 from a snapshot taken before the write below.
	rec, g, s := f.laggingStore(t, "old")

	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		s.Get(f.ctx, rec.Key)
	}()
	g.waitEntered(t, 1)
	rec.Data = []byte("new")
	if _, err := s.Save(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	g.open()
	<-loadDone
	if got := mustGet(t, s, rec.Key); got.Version != 2 || string(got.Data) != "new" {
		t.Fatalf("after a slow load finished, Get = %+v; want version 2", got)
	}
}

func TestNegativeCache(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{NegativeTTL: time.Second})
	key := remotetest.Key(t)
	before := f.remote.Requests()
	for range 5 {
		if _, found, err := s.Get(f.ctx, key); found || err != nil {
			t.Fatalf("Get of a missing key: found %v, err %v", found, err)
		}
	}
	if n := f.remote.Requests() - before; n != 1 {
		t.Fatalf("5 Gets of a missing key made %d remote reads; want 1", n)
	}
	if st := s.Stats(); st.LocalNegativeHits != 4 {
		t.Fatalf("negative hits = %d; want 4", st.LocalNegativeHits)
	}
	f.clock.Advance(time.Second)
	s.Get(f.ctx, key)
	if n := f.remote.Requests() - before; n != 2 {
		t.Fatalf("after NegativeTTL, remote reads = %d; want 2", n)
	}
	// A create on this node is visible at once despite the negative entry.
	rec := f.record(t, "now here")
	rec.Key = key
	if _, err := s.Create(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, key); got.Version != 1 {
		t.Fatalf("Get after Create = %+v", got)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{LocalTTL: 2 * time.Second})
	rec := f.record(t, "x")
	rec.ExpiresAt = f.clock.Now().Add(5 * time.Second)
	rec, err := s.Create(f.ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	before := f.remote.Requests()
	mustGet(t, s, rec.Key)
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("a fresh Get read the remote %d times", n)
	}
	f.clock.Advance(2 * time.Second) // local TTL over
	mustGet(t, s, rec.Key)
	if n := f.remote.Requests() - before; n != 1 {
		t.Fatalf("after LocalTTL, remote reads = %d; want 1", n)
	}
	f.clock.Advance(3 * time.Second) // the record's own ExpiresAt
	if _, found, err := s.Get(f.ctx, rec.Key); found || err != nil {
		t.Fatalf("Get of an expired record: found %v, err %v; want not found", found, err)
	}
}

func TestLocalMaxBytes(t *testing.T) {
	f := newFixture()
	// A small cache is one shard: room for three sessions of about 1 KB.
	s := f.store(t, nil, tier.Options{LocalCapacity: 100, LocalMaxBytes: 3500})
	var keys []string
	for i := range 10 {
		rec := f.record(t, "")
		rec.Data = make([]byte, 1000+i)
		if _, err := s.Create(f.ctx, rec); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, rec.Key)
	}
	if st := s.Stats(); st.LocalEntries > 3 || st.LocalEvictions == 0 {
		t.Fatalf("with a 3500-byte cap, %d entries cached and %d evicted; want at most 3 and some evictions", st.LocalEntries, st.LocalEvictions)
	}
	// Evicted sessions are still served, from the remote.
	for _, k := range keys {
		mustGet(t, s, k)
	}
}

// failingRemote fails every Get while fail is set.
type failingRemote struct {
	remote.Store
	fail bool
}

func (r *failingRemote) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	if r.fail {
		return remote.Record{}, false, fmt.Errorf("%w: injected", remote.ErrUnavailable)
	}
	return r.Store.Get(ctx, key)
}

func TestStaleIfError(t *testing.T) {
	for _, tc := range []struct {
		name      string
		staleIf   time.Duration
		age       time.Duration
		wantStale bool
	}{
		{"off", 0, 2 * time.Second, false},
		{"within the grace", 10 * time.Second, 2 * time.Second, true},
		{"past the grace", 10 * time.Second, 12 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			r := &failingRemote{Store: f.remote}
			s := f.store(t, r, tier.Options{LocalTTL: 2 * time.Second, StaleIfError: tc.staleIf})
			rec, err := s.Create(f.ctx, f.record(t, "cached"))
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tc.age) // past LocalTTL: the next Get asks the remote
			r.fail = true
			got, found, err := s.Get(f.ctx, rec.Key)
			if tc.wantStale {
				if err != nil || !found || got.Version != 1 || string(got.Data) != "cached" {
					t.Fatalf("Get with the remote down = %+v, found %v, err %v; want the stale copy", got, found, err)
				}
				if st := s.Stats(); st.StaleServed != 1 {
					t.Fatalf("StaleServed = %d; want 1", st.StaleServed)
				}
				return
			}
			if !errors.Is(err, remote.ErrUnavailable) {
				t.Fatalf("Get with the remote down = %+v, found %v, err %v; want ErrUnavailable", got, found, err)
			}
		})
	}
}
