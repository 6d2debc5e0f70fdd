package scsstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
)

// hookedBackend runs a hook once, right before the Store's next call of
// one method reaches the backend: another writer acting between the
// Store's read and its write, forced without timing.
type hookedBackend struct {
	scsstore.Backend
	beforeCreate, beforeSave, beforeTouch func()
}

func once(f *func()) {
	if g := *f; g != nil {
		*f = nil
		g()
	}
}

func (h *hookedBackend) Create(ctx context.Context, rec tier.Record) (tier.Record, error) {
	once(&h.beforeCreate)
	return h.Backend.Create(ctx, rec)
}

func (h *hookedBackend) Save(ctx context.Context, rec tier.Record) (tier.Record, error) {
	once(&h.beforeSave)
	return h.Backend.Save(ctx, rec)
}

func (h *hookedBackend) Touch(ctx context.Context, key string, exp time.Time) (tier.Record, error) {
	once(&h.beforeTouch)
	return h.Backend.Touch(ctx, key, exp)
}

// TestInterleavings forces another node's write between a commit's read
// and its write, and checks that the commit still lands whole: the last
// writer wins.
func TestInterleavings(t *testing.T) {
	cases := []struct {
		name string
		// first is committed before the hook is armed (nil: nothing).
		first []byte
		// arm sets the hook that makes other write in between.
		arm         func(h *hookedBackend, other *scsstore.Store, token string, exp time.Time)
		wantRetries uint64
		wantVersion uint64
	}{
		{
			name:  "changed meanwhile",
			first: []byte("v1"),
			arm: func(h *hookedBackend, other *scsstore.Store, token string, exp time.Time) {
				h.beforeSave = func() { mustCommit(t, other, token, []byte("theirs"), exp) }
			},
			wantVersion: 3, // theirs is 2; the Store's Update saved over it
		},
		{
			name:  "created meanwhile",
			first: nil,
			arm: func(h *hookedBackend, other *scsstore.Store, token string, exp time.Time) {
				h.beforeCreate = func() { mustCommit(t, other, token, []byte("theirs"), exp) }
			},
			wantRetries: 1,
			wantVersion: 2,
		},
		{
			name:  "deleted before the save",
			first: []byte("v1"),
			arm: func(h *hookedBackend, other *scsstore.Store, token string, exp time.Time) {
				h.beforeSave = func() {
					if err := other.Delete(token); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantRetries: 1,
			wantVersion: 1, // created again
		},
		{
			name:  "deleted before the touch",
			first: []byte("mine"), // the commit below is unchanged: a Touch
			arm: func(h *hookedBackend, other *scsstore.Store, token string, exp time.Time) {
				h.beforeTouch = func() {
					if err := other.Delete(token); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantRetries: 1,
			wantVersion: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ts, _ := f.node(t, tier.Options{TouchInterval: -1}, scsstore.Options{})
			_, other := f.node(t, tier.Options{}, scsstore.Options{})
			h := &hookedBackend{Backend: ts}
			s, err := scsstore.NewWithOptions(h, scsstore.Options{Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			token := tiersession.NewToken()
			if c.first != nil {
				mustCommit(t, s, token, c.first, f.clock.Now().Add(time.Minute))
			}
			before := s.Stats()
			c.arm(h, other, token, f.clock.Now().Add(time.Minute))
			mustCommit(t, s, token, []byte("mine"), f.clock.Now().Add(2*time.Minute))

			rec, found, err := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
			if err != nil || !found || string(rec.Data) != "mine" || rec.Version != c.wantVersion {
				t.Fatalf("remote holds %q version %d (found %v, err %v); want %q version %d", rec.Data, rec.Version, found, err, "mine", c.wantVersion)
			}
			f.flush(t)
			if b := mustFind(t, other, token); string(b) != "mine" {
				t.Fatalf("the other node finds %q; want %q", b, "mine")
			}
			if got := s.Stats().Retries - before.Retries; got != c.wantRetries {
				t.Fatalf("Stats.Retries grew by %d; want %d", got, c.wantRetries)
			}
		})
	}
}

// fakeBackend answers every call with fixed results.
type fakeBackend struct {
	found bool
	err   error // returned by every call
	calls int
}

func (b *fakeBackend) Get(context.Context, string) (tier.Record, bool, error) {
	b.calls++
	return tier.Record{}, b.found, b.err
}

func (b *fakeBackend) Create(context.Context, tier.Record) (tier.Record, error) {
	b.calls++
	return tier.Record{}, b.err
}

func (b *fakeBackend) Save(context.Context, tier.Record) (tier.Record, error) {
	b.calls++
	return tier.Record{}, b.err
}

func (b *fakeBackend) Update(context.Context, string, func(tier.Record) (tier.Record, error)) (tier.Record, error) {
	b.calls++
	return tier.Record{}, b.err
}

func (b *fakeBackend) Touch(context.Context, string, time.Time) (tier.Record, error) {
	b.calls++
	return tier.Record{}, b.err
}

func (b *fakeBackend) Delete(context.Context, string, uint64) error {
	b.calls++
	return b.err
}

// TestErrors checks that backend errors reach scs as errors (never as
// "not found"), wrapped so that tier's sentinels still match, and that a
// commit that keeps meeting a session appearing gives up.
func TestErrors(t *testing.T) {
	token := tiersession.NewToken()
	exp := time.Now().Add(time.Hour)
	unavailable := fmt.Errorf("%w: the remote is down", tier.ErrUnavailable)

	t.Run("find", func(t *testing.T) {
		s := scsstore.New(&fakeBackend{err: unavailable})
		if _, found, err := s.Find(token); found || !errors.Is(err, tier.ErrUnavailable) {
			t.Fatalf("Find = found %v, err %v; want ErrUnavailable", found, err)
		}
	})
	t.Run("commit", func(t *testing.T) {
		s := scsstore.New(&fakeBackend{err: unavailable})
		if err := s.Commit(token, []byte("x"), exp); !errors.Is(err, tier.ErrUnavailable) {
			t.Fatalf("Commit = %v; want ErrUnavailable", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := scsstore.New(&fakeBackend{err: unavailable})
		if err := s.Delete(token); !errors.Is(err, tier.ErrUnavailable) {
			t.Fatalf("Delete = %v; want ErrUnavailable", err)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		// Get never finds the session, Create always conflicts.
		b := &fakeBackend{err: nil}
		s := scsstore.New(&conflictingCreate{fakeBackend: b})
		if err := s.Commit(token, []byte("x"), exp); !errors.Is(err, tier.ErrConflict) {
			t.Fatalf("Commit = %v; want ErrConflict", err)
		}
		if st := s.Stats(); st.Retries != 2 || st.Writes != 0 {
			t.Fatalf("Stats = %+v; want 2 retries (3 attempts), no write", st)
		}
	})
}

// conflictingCreate is a backend whose sessions appear at every Create.
type conflictingCreate struct{ *fakeBackend }

func (c *conflictingCreate) Create(context.Context, tier.Record) (tier.Record, error) {
	return tier.Record{}, tier.ErrConflict
}

// TestConcurrentCommits lets two nodes commit different data for one
// session at once. Every commit either lands or gives up with ErrConflict
// (tier.Options.MaxUpdateRetries), and the session ends as one of the
// committed values, whole, on both nodes.
func TestConcurrentCommits(t *testing.T) {
	f := newFixture(t)
	_, a := f.node(t, tier.Options{}, scsstore.Options{})
	_, b := f.node(t, tier.Options{}, scsstore.Options{})
	token := tiersession.NewToken()
	exp := f.clock.Now().Add(time.Hour)
	mustCommit(t, a, token, []byte("start"), exp)

	const writers, commits = 4, 25
	committed := map[string]bool{"start": true}
	errs := make(chan error, writers*commits)
	var wg sync.WaitGroup
	for w := range writers {
		s := []*scsstore.Store{a, b}[w%2]
		data := make([][]byte, commits)
		for i := range data {
			data[i] = fmt.Appendf(nil, "writer %d commit %d", w, i)
			committed[string(data[i])] = true
		}
		wg.Go(func() {
			for _, d := range data {
				errs <- s.Commit(token, d, exp)
			}
		})
	}
	wg.Wait()
	close(errs)
	landed := 0
	for err := range errs {
		switch {
		case err == nil:
			landed++
		case !errors.Is(err, tier.ErrConflict):
			t.Fatalf("Commit = %v; want nil or ErrConflict", err)
		}
	}
	if landed == 0 {
		t.Fatal("no commit landed")
	}
	f.flush(t)
	got := mustFind(t, a, token)
	if !committed[string(got)] {
		t.Fatalf("the session holds %q, which nobody committed", got)
	}
	if other := mustFind(t, b, token); string(other) != string(got) {
		t.Fatalf("node a finds %q, node b %q", got, other)
	}
	t.Logf("%d of %d commits landed", landed, writers*commits)
}
