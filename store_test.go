// End-to-end tests of the whole stack on real servers: tier.Store over
// remote.Dynamo on dynalite, and (bus_test.go) nodes that invalidate each
// other over a real redis-server.
package tiersession_test

import (
	"context"
	"errors"
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

func TestMain(m *testing.M) {
	code := dynamotest.Run(m)
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// table is one dynalite table seen through a request-counting transport.
type table struct {
	name   string
	faults *dynamotest.FaultTransport
	dynamo *remote.Dynamo
	clock  *remotetest.Clock
}

// newTable makes a fresh table on dynamotest.Endpoint's server: dynalite,
// or DynamoDB Local with DYNAMOTEST_SERVER=dynamodblocal (make test runs
// this package on both).
func newTable(t testing.TB) *table {
	t.Helper()
	client, faults := dynamotest.NewFaultClient(t, dynamotest.Endpoint(t))
	name := dynamotest.NewTable(t, client)
	clock := remotetest.NewClock(time.Now().Truncate(time.Second))
	d, err := remote.NewDynamo(client, remote.DynamoOptions{Table: name, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &table{name: name, faults: faults, dynamo: d, clock: clock}
}

// node opens a tier.Store over the table (or over r when it wraps it).
func (tb *table) node(t testing.TB, r remote.Store, opts tier.Options) *tier.Store {
	t.Helper()
	if r == nil {
		r = tb.dynamo
	}
	opts.Now = tb.clock.Now
	return tiertest.Open(t, r, opts)
}

func (tb *table) record(t testing.TB, data string) tier.Record {
	return tiertest.Record(t, tb.clock.Now(), data)
}

var get = tiertest.MustGet

func TestReadYourWrites(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	s := tb.node(t, nil, tier.Options{})
	rec, err := s.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	before := tb.faults.Requests()
	for v := uint64(2); v <= 4; v++ {
		rec.Data = []byte{byte('0' + v)}
		if rec, err = s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, rec.Key); got.Version != v || string(got.Data) != string(rec.Data) {
			t.Fatalf("Get after Save = %+v; want version %d", got, v)
		}
	}
	if n := tb.faults.Requests() - before; n != 3 {
		t.Fatalf("3 Saves and 3 Gets sent %d requests to DynamoDB; want 3", n)
	}
	fresh := tb.node(t, nil, tier.Options{})
	if got := get(t, fresh, rec.Key); got.Version != 4 {
		t.Fatalf("another node reads %+v from DynamoDB; want version 4", got)
	}
}

func TestConflictBetweenStores(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	a := tb.node(t, nil, tier.Options{})
	b := tb.node(t, nil, tier.Options{})
	rec, err := a.Create(ctx, tb.record(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	stale := get(t, b, rec.Key)
	rec.Data = []byte("a wins")
	if _, err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	stale.Data = []byte("b loses")
	_, err = b.Save(ctx, stale)
	var ce *remote.ConflictError
	if !errors.Is(err, tier.ErrConflict) || !errors.As(err, &ce) || ce.Current != 2 {
		t.Fatalf("b's Save on a stale copy: err = %v; want ErrConflict at current version 2", err)
	}
	// b dropped its copy, so Update reads the winner and applies on top.
	out, err := b.Update(ctx, rec.Key, func(r tier.Record) (tier.Record, error) {
		r.Data = append(r.Data, " + b"...)
		return r, nil
	})
	if err != nil || out.Version != 3 || string(out.Data) != "a wins + b" {
		t.Fatalf("Update after the conflict = %+v, %v; want version 3 %q", out, err, "a wins + b")
	}
}

// gate holds remote reads until released.
type gate struct {
	remote.Store
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Store.Get(ctx, key)
}

func TestColdStampedeOneRead(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	rec, err := tb.dynamo.Create(ctx, tb.record(t, "hot"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{Store: tb.dynamo, entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := tb.node(t, g, tier.Options{})
	before := tb.faults.Requests()

	const callers = 1000
	var wg sync.WaitGroup
	var ok atomic.Int64
	started := make(chan struct{}, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			if got, found, err := s.Get(ctx, rec.Key); err == nil && found && got.Version == 1 {
				ok.Add(1)
			}
		}()
	}
	<-g.entered // the read is in flight...
	for range callers {
		<-started // ...and every caller has started
	}
	close(g.release)
	wg.Wait()
	if ok.Load() != callers {
		t.Fatalf("%d of %d callers got the record", ok.Load(), callers)
	}
	if n := tb.faults.Requests() - before; n != 1 {
		t.Fatalf("%d concurrent cold Gets sent %d requests to DynamoDB; want exactly 1", callers, n)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	s := tb.node(t, nil, tier.Options{LocalTTL: 2 * time.Second})
	rec := tb.record(t, "x")
	rec.ExpiresAt = tb.clock.Now().Add(5 * time.Second)
	rec, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	reads := func() int64 { return int64(s.Stats().Remote[0][0] + s.Stats().Remote[0][1]) }
	get(t, s, rec.Key)
	if reads() != 0 {
		t.Fatal("a fresh Get read DynamoDB")
	}
	tb.clock.Advance(2 * time.Second) // the local TTL ends; the record lives
	get(t, s, rec.Key)
	if reads() != 1 {
		t.Fatalf("after LocalTTL: %d DynamoDB reads; want 1", reads())
	}
	tb.clock.Advance(3 * time.Second) // the record's ExpiresAt; the item is still in the table
	if _, found, err := s.Get(ctx, rec.Key); found || err != nil {
		t.Fatalf("Get of an expired record: found %v, err %v; want not found", found, err)
	}
	if _, found, err := tb.node(t, nil, tier.Options{}).Get(ctx, rec.Key); found || err != nil {
		t.Fatalf("a cold node reads an expired item: found %v, err %v; want not found", found, err)
	}
}

func TestNegativeCaching(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t)
	s := tb.node(t, nil, tier.Options{NegativeTTL: time.Second})
	forged := remotetest.Key(t)
	before := tb.faults.Requests()
	for range 50 {
		if _, found, err := s.Get(ctx, forged); found || err != nil {
			t.Fatalf("forged key: found %v, err %v", found, err)
		}
	}
	if n := tb.faults.Requests() - before; n != 1 {
		t.Fatalf("50 Gets of a forged key sent %d requests; want 1", n)
	}
	tb.clock.Advance(time.Second)
	s.Get(ctx, forged)
	if n := tb.faults.Requests() - before; n != 2 {
		t.Fatalf("after NegativeTTL: %d requests; want 2", n)
	}
}
