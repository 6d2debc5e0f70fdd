package tier_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

// TestMain stops the DynamoDB emulators the tests started
// (owners_dynamo_test.go), then checks that no goroutine is left.
// expirable.LRU (a benchmark contender) starts a cleanup goroutine that
// golang-lru v2.0.7 gives no way to stop.
func TestMain(m *testing.M) {
	code := dynamotest.Run(m)
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// gatedRemote holds every Get until the test releases it, so tests can
// force a read to be in flight while other things happen.
type gatedRemote struct {
	remote.Store
	gets    atomic.Int64
	entered chan struct{} // one value per Get that reached the gate
	release chan struct{} // closed to let the held Gets proceed
	once    sync.Once
}

func newGated(s remote.Store) *gatedRemote {
	return &gatedRemote{Store: s, entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gatedRemote) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	g.gets.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return remote.Record{}, false, ctx.Err()
	}
	return g.Store.Get(ctx, key)
}

func (g *gatedRemote) open() { g.once.Do(func() { close(g.release) }) }

// waitEntered waits for n Gets to reach the gate.
func (g *gatedRemote) waitEntered(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("timed out waiting for a remote Get")
		}
	}
}

// fixture is a Store over an in-memory remote with a manual clock.
type fixture struct {
	clock  *remotetest.Clock
	remote *remote.Memory
	ctx    context.Context
}

func newFixture() *fixture {
	clock := remotetest.NewClock(time.Now().Truncate(time.Second))
	return &fixture{clock: clock, remote: remote.NewMemory(remote.MemoryOptions{Now: clock.Now}), ctx: context.Background()}
}

// store opens a tier.Store over r (the fixture's remote when nil).
func (f *fixture) store(t testing.TB, r remote.Store, opts tier.Options) *tier.Store {
	t.Helper()
	if r == nil {
		r = f.remote
	}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	return tiertest.Open(t, r, opts)
}

func (f *fixture) record(t testing.TB, data string) tier.Record {
	return tiertest.Record(t, f.clock.Now(), data)
}

var mustGet = tiertest.MustGet

// splitRemote reads from one store and writes to another.
type splitRemote struct {
	remote.Store
	reads remote.Store
}

func (s *splitRemote) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	return s.reads.Get(ctx, key)
}

// laggingStore creates a record and returns a Store that writes to the
// fixture's remote but reads, through a gate, from a snapshot holding the
// record's version 1, as a lagging replica or a slow read would.
func (f *fixture) laggingStore(t *testing.T, data string) (tier.Record, *gatedRemote, *tier.Store) {
	t.Helper()
	rec, err := f.remote.Create(f.ctx, f.record(t, data))
	if err != nil {
		t.Fatal(err)
	}
	snapshot := remote.NewMemory(remote.MemoryOptions{Now: f.clock.Now})
	if _, err := snapshot.Create(f.ctx, rec); err != nil {
		t.Fatal(err)
	}
	g := newGated(snapshot)
	return rec, g, f.store(t, &splitRemote{Store: f.remote, reads: g}, tier.Options{})
}
