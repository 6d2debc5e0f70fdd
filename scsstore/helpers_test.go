package scsstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

// scs.New starts a memstore cleanup goroutine that nothing stops, even
// once the Store field is replaced (scs v2.9.0).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

// spyRemote is an in-memory remote that records every key it is asked
// about and counts requests per operation.
type spyRemote struct {
	*remote.Memory

	mu    sync.Mutex
	keys  []string
	calls map[string]int
}

var _ remote.ConsistentGetter = (*spyRemote)(nil)

func newSpyRemote(now func() time.Time) *spyRemote {
	return &spyRemote{Memory: remote.NewMemory(remote.MemoryOptions{Now: now}), calls: map[string]int{}}
}

func (s *spyRemote) note(op, key string) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.calls[op]++
	s.mu.Unlock()
}

// count returns how many op requests the remote got.
func (s *spyRemote) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// seen returns every key the remote was asked about.
func (s *spyRemote) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *spyRemote) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	s.note("get", key)
	return s.Memory.Get(ctx, key)
}

func (s *spyRemote) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	s.note("get", key)
	return s.Memory.GetConsistent(ctx, key)
}

func (s *spyRemote) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	s.note("create", rec.Key)
	return s.Memory.Create(ctx, rec)
}

func (s *spyRemote) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	s.note("put", rec.Key)
	return s.Memory.Put(ctx, rec, expected)
}

func (s *spyRemote) Delete(ctx context.Context, key string, expected uint64) error {
	s.note("delete", key)
	return s.Memory.Delete(ctx, key, expected)
}

func (s *spyRemote) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	s.note("touch", key)
	return s.Memory.Touch(ctx, key, expiresAt)
}

// spyBus is an in-process bus that records the key of every event
// published on it.
type spyBus struct {
	*invalidation.Local

	mu   sync.Mutex
	keys []string
}

func (b *spyBus) Publish(ctx context.Context, e invalidation.Event) error {
	b.mu.Lock()
	b.keys = append(b.keys, e.Key)
	b.mu.Unlock()
	return b.Local.Publish(ctx, e)
}

func (b *spyBus) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.keys...)
}

// fixture is one remote, shared by the nodes a test opens on it, with a
// manual clock every layer reads.
type fixture struct {
	clock  *remotetest.Clock
	remote *spyRemote
	bus    *spyBus
	ctx    context.Context
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clock := remotetest.NewClock(time.Now().Truncate(time.Second))
	bus := &spyBus{Local: invalidation.NewLocal(invalidation.LocalOptions{})}
	t.Cleanup(func() { bus.Close() }) // after the stores' Close (LIFO)
	return &fixture{clock: clock, remote: newSpyRemote(clock.Now), bus: bus, ctx: context.Background()}
}

// node opens a tier.Store on the fixture's remote and bus, and a Store
// over it.
func (f *fixture) node(t testing.TB, topts tier.Options, opts scsstore.Options) (*tier.Store, *scsstore.Store) {
	t.Helper()
	topts.Now = f.clock.Now
	topts.Bus = f.bus
	ts := tiertest.Open(t, f.remote, topts)
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	s, err := scsstore.NewWithOptions(ts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ts, s
}

func (f *fixture) flush(t testing.TB) {
	t.Helper()
	if err := f.bus.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// encode returns the session as scs's default codec stores it.
func encode(t testing.TB, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reencode returns an encoding of the same session whose bytes differ
// from b: gob writes map entries in random order, so a few tries find one.
func reencode(t testing.TB, b []byte, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	for range 1000 {
		if c := encode(t, deadline, values); string(c) != string(b) {
			return c
		}
	}
	t.Fatal("gob gave the same bytes 1000 times; use more values")
	return nil
}

// sessionValues is a session with enough values that its gob encodings
// differ from one call to the next.
func sessionValues() map[string]any {
	return map[string]any{
		"user": "alice", "role": "admin", "cart": 3, "lang": "en",
		"theme": "dark", "flag": true, "visits": 12, "tz": "UTC",
	}
}

func mustFind(t testing.TB, s *scsstore.Store, token string) []byte {
	t.Helper()
	b, found, err := s.Find(token)
	if err != nil || !found {
		t.Fatalf("Find = found %v, err %v; want the session", found, err)
	}
	return b
}

func mustMiss(t testing.TB, s *scsstore.Store, token string) {
	t.Helper()
	b, found, err := s.Find(token)
	if err != nil || found {
		t.Fatalf("Find = %q, found %v, err %v; want found=false, nil error", b, found, err)
	}
}

func mustCommit(t testing.TB, s *scsstore.Store, token string, b []byte, expiry time.Time) {
	t.Helper()
	if err := s.Commit(token, b, expiry); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}
