package tier_test

import (
	"testing"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/tier"
)

// cluster is n Stores on one remote and one in-process bus.
func (f *fixture) cluster(t *testing.T, n int) (*invalidation.Local, []*tier.Store) {
	t.Helper()
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	nodes := make([]*tier.Store, n)
	for i := range nodes {
		nodes[i] = f.store(t, nil, tier.Options{Bus: bus})
	}
	t.Cleanup(func() { bus.Close() }) // after the stores' Close (LIFO)
	return bus, nodes
}

func flush(t *testing.T, bus *invalidation.Local) {
	t.Helper()
	if err := bus.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestBusInvalidatesOtherNodes(t *testing.T) {
	f := newFixture()
	bus, nodes := f.cluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	rec, err := a.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	// The create's event first: handled while b's or c's read of v1 is in
	// flight, it is a change of the key, so that read would cache nothing
	// and the save's event below would find no copy to evict (this test
	// failed once so, in a 20-run loop of the whole suite).
	flush(t, bus)
	mustGet(t, b, rec.Key)
	mustGet(t, c, rec.Key)
	rec.Data = []byte("v2")
	if _, err := a.Save(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	flush(t, bus)
	for i, n := range []*tier.Store{b, c} {
		if got := mustGet(t, n, rec.Key); got.Version != 2 || string(got.Data) != "v2" {
			t.Fatalf("node %d reads %+v after the event; want version 2", i+1, got)
		}
		if st := n.Stats(); st.BusApplied < 1 {
			t.Fatalf("node %d applied %d events; want at least 1", i+1, st.BusApplied)
		}
	}
	if st := a.Stats(); st.BusIgnored < 2 || st.BusPublished != 2 {
		t.Fatalf("origin node: ignored %d, published %d; want its own 2 events ignored", st.BusIgnored, st.BusPublished)
	}
	if err := b.Delete(f.ctx, rec.Key, 2); err != nil {
		t.Fatal(err)
	}
	flush(t, bus)
	for i, n := range []*tier.Store{a, c} {
		if _, found, err := n.Get(f.ctx, rec.Key); found || err != nil {
			t.Fatalf("node %d after a delete elsewhere: found %v, err %v", i, found, err)
		}
	}
}

func TestOldAndDuplicateEventsKeepNewerCopy(t *testing.T) {
	f := newFixture()
	bus, nodes := f.cluster(t, 2)
	a, b := nodes[0], nodes[1]
	rec, err := a.Create(f.ctx, f.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	rec.Data = []byte("v2")
	if rec, err = a.Save(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	flush(t, bus)
	mustGet(t, b, rec.Key) // b caches version 2
	before := f.remote.Requests()
	for _, v := range []uint64{1, 2, 2, 1} { // late and repeated events
		if err := bus.Publish(f.ctx, invalidation.Event{Key: rec.Key, Version: v, Kind: invalidation.Changed, Origin: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, bus)
	if got := mustGet(t, b, rec.Key); got.Version != 2 {
		t.Fatalf("b reads %+v; want version 2", got)
	}
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("old or duplicate events evicted a newer copy: %d remote reads", n)
	}
}

func TestInvalidate(t *testing.T) {
	f := newFixture()
	_, nodes := f.cluster(t, 1)
	s := nodes[0]
	rec, err := s.Create(f.ctx, f.record(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats().LocalEntries != 1 {
		t.Fatal("the created record is not cached")
	}
	// Invalidate with the same version keeps the copy; a newer one drops it.
	if s.Invalidate(rec.Key, 1) {
		t.Fatal("Invalidate at the cached version dropped the copy")
	}
	if !s.Invalidate(rec.Key, 2) {
		t.Fatal("Invalidate at a newer version kept the copy")
	}
}

func TestEventDuringLoadIsNotUndone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *tier.Store, f *fixture, rec tier.Record)
	}{
		{"bus event", func(s *tier.Store, f *fixture, rec tier.Record) {
			rec.Data = []byte("v2 elsewhere")
			if _, err := f.remote.Put(f.ctx, rec, 1); err != nil {
				t.Fatal(err)
			}
			s.Invalidate(rec.Key, 2)
		}},
		{"own write", func(s *tier.Store, f *fixture, rec tier.Record) {
			rec.Data = []byte("v2 here")
			if _, err := s.Save(f.ctx, rec); err != nil {
				t.Fatal(err)
			}
			s.Invalidate(rec.Key, 3) // and the copy is evicted at once
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			// The first read is held and answers version 1; later reads
			// see the truth.
			rec, g, s := f.laggingStore(t, "v1")
			first := make(chan struct{})
			go func() {
				defer close(first)
				if got, _, _ := s.Get(f.ctx, rec.Key); got.Version != 1 {
					t.Errorf("the held read returned version %d; want 1", got.Version)
				}
			}()
			g.waitEntered(t, 1)
			tc.change(s, f, rec)
			g.open()
			<-first
			g.Store = f.remote // from now on reads see the truth
			if got := mustGet(t, s, rec.Key); got.Version != 2 {
				t.Fatalf("after the change, Get = version %d; want 2 (the held read must not have cached version 1)", got.Version)
			}
		})
	}
}
