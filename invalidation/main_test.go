package invalidation_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout is the failure deadline of every wait in these tests: long
// enough for a loaded CI machine, never a delay the tests rely on.
const waitTimeout = 10 * time.Second

// recorder is a Handler that hands what it receives to the test through
// channels. Its buffers are large enough that it never blocks a bus in
// these tests.
type recorder struct {
	events chan invalidation.Event
	gaps   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		events: make(chan invalidation.Event, 4096),
		gaps:   make(chan struct{}, 1024),
	}
}

// HandleEvent records e.
func (r *recorder) HandleEvent(e invalidation.Event) { r.events <- e }

// HandleGap records a gap.
func (r *recorder) HandleGap() { r.gaps <- struct{}{} }

// next returns the next event, failing the test if none comes in time.
func (r *recorder) next(tb testing.TB) invalidation.Event {
	tb.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(waitTimeout):
		tb.Fatalf("no event within %v", waitTimeout)
		return invalidation.Event{}
	}
}

// expect fails the test unless the next events are want, in order.
func (r *recorder) expect(tb testing.TB, want ...invalidation.Event) {
	tb.Helper()
	for i, w := range want {
		if got := r.next(tb); got != w {
			tb.Fatalf("event %d = %+v, want %+v", i, got, w)
		}
	}
}

// gap waits for one HandleGap call, failing the test if none comes in time.
func (r *recorder) gap(tb testing.TB) {
	tb.Helper()
	select {
	case <-r.gaps:
	case <-time.After(waitTimeout):
		tb.Fatalf("no HandleGap within %v", waitTimeout)
	}
}

// noPending fails the test if the recorder holds an unread event or gap.
func (r *recorder) noPending(tb testing.TB) {
	tb.Helper()
	select {
	case e := <-r.events:
		tb.Fatalf("unexpected event %+v", e)
	case <-r.gaps:
		tb.Fatal("unexpected HandleGap")
	default:
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
// It waits on a condition of the system under test, such as a counter
// reaching a value, where no channel can say when it happens.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		case <-tick.C:
		}
	}
}

// testCtx returns a context that ends with the test or after waitTimeout.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// subscribe subscribes h to bus and unsubscribes it when the test ends.
func subscribe(tb testing.TB, bus invalidation.Bus, h invalidation.Handler) (unsubscribe func()) {
	tb.Helper()
	unsubscribe, err := bus.Subscribe(testCtx(tb), h)
	if err != nil {
		tb.Fatalf("Subscribe: %v", err)
	}
	tb.Cleanup(unsubscribe)
	return unsubscribe
}

// newRedisBus returns a Redis bus on its own client of srv, as one node
// would have, closed when the test ends. hooks are added to the client.
// Unless opts says otherwise, the bus signs with testKey("k1").
func newRedisBus(tb testing.TB, srv *redistest.Server, opts invalidation.RedisOptions, hooks ...redis.Hook) *invalidation.Redis {
	tb.Helper()
	client := srv.NewClient(nil)
	for _, h := range hooks {
		client.AddHook(h)
	}
	return newRedisBusOn(tb, client, opts)
}

// newRedisBusOn returns a Redis bus on client, closed when the test ends
// (before the client if the client's cleanup was registered first). Unless
// opts says otherwise, the bus signs with testKey("k1").
func newRedisBusOn(tb testing.TB, client redis.UniversalClient, opts invalidation.RedisOptions) *invalidation.Redis {
	tb.Helper()
	if opts.Keys == nil && !opts.Insecure {
		opts.Keys = []invalidation.Key{testKey("k1")}
	}
	bus, err := invalidation.NewRedis(client, opts)
	if err != nil {
		tb.Fatalf("NewRedis: %v", err)
	}
	tb.Cleanup(func() { _ = bus.Close() })
	return bus
}

// testKey returns a key with the given id and a secret derived from it,
// so that two buses given testKey of one id share the key.
func testKey(id string) invalidation.Key {
	secret := sha256.Sum256([]byte("tiersession test secret " + id))
	return invalidation.Key{ID: id, Secret: secret[:]}
}

// ev builds an event for key k at version v.
func ev(k string, v uint64, kind invalidation.Kind, origin string) invalidation.Event {
	return invalidation.Event{Key: k, Version: v, Kind: kind, Origin: origin}
}

// statser is what both buses offer beyond Bus.
type statser interface {
	Stats() invalidation.Stats
}
