package tier_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

// "Log out everywhere" on the real engines: nodes on AWS's DynamoDB Local
// (a table with the owner index, made by EnsureTable), each with its own
// Redis bus on one redis-server. The owner index is wrapped in a
// laggingIndex, so that DestroyAll misses sessions as DynamoDB's
// eventually consistent index would miss the newest ones (DynamoDB Local
// updates its index at once).

// ddbCluster is n nodes on one DynamoDB Local table.
type ddbCluster struct {
	dynamo *remote.Dynamo
	index  *laggingIndex
	nodes  []*tier.Store
	buses  []*watchedBus
}

// newDDBCluster starts the cluster; wrap, when set, gives node i its own
// view of the remote.
func newDDBCluster(t *testing.T, n int, opts tier.Options, wrap func(i int, r ownersRemote) remote.Store) *ddbCluster {
	t.Helper()
	client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
	name := dynamotest.TableName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dynamotest.DeleteTable(ctx, client, name); err != nil {
			t.Error(err)
		}
	})
	d, err := remote.NewDynamo(client, remote.DynamoOptions{Table: name, OwnerIndex: remote.DefaultOwnerIndex})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	c := &ddbCluster{dynamo: d, index: newLaggingIndex(d)}
	redis := redistest.Start(t)
	for i := range n {
		rb, err := invalidation.NewRedis(redis.NewClient(nil), invalidation.RedisOptions{Keys: []invalidation.Key{{ID: "test", Secret: []byte("0123456789abcdef0123456789abcdef")}}})
		if err != nil {
			t.Fatal(err)
		}
		bus := &watchedBus{Redis: rb, revoked: make(chan invalidation.Event, 64)}
		t.Cleanup(func() { bus.Close() }) // after the node's Close
		o := opts
		o.Bus = bus
		var r remote.Store = c.index
		if wrap != nil {
			r = wrap(i, c.index)
		}
		c.nodes = append(c.nodes, tiertest.Open(t, r, o))
		c.buses = append(c.buses, bus)
	}
	return c
}

// watchedBus is a Redis bus that reports each Revoked event once its node
// has handled it, and can hold those events back until released.
type watchedBus struct {
	*invalidation.Redis
	revoked chan invalidation.Event
	mu      sync.Mutex
	held    chan struct{} // when set, Revoked events wait until it is closed
}

func (b *watchedBus) Subscribe(ctx context.Context, h invalidation.Handler) (func(), error) {
	return b.Redis.Subscribe(ctx, watcher{h, b})
}

// hold makes the node's Revoked events wait; the function returned
// releases them.
func (b *watchedBus) hold() (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.held = ch
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.held = nil
		b.mu.Unlock()
		close(ch)
	}
}

// waitRevoked waits until the node has handled the Revoked event of owner
// at gen.
func (b *watchedBus) waitRevoked(t testing.TB, owner string, gen uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-b.revoked:
			if e.Key == owner && e.Version == gen {
				return
			}
		case <-deadline:
			t.Fatalf("no Revoked event for generation %d within 30s", gen)
		}
	}
}

type watcher struct {
	h invalidation.Handler
	b *watchedBus
}

func (w watcher) HandleEvent(e invalidation.Event) {
	if e.Kind != invalidation.Revoked {
		w.h.HandleEvent(e)
		return
	}
	w.b.mu.Lock()
	held := w.b.held
	w.b.mu.Unlock()
	if held != nil {
		<-held
	}
	w.h.HandleEvent(e)
	w.b.revoked <- e
}

func (w watcher) HandleGap() { w.h.HandleGap() }

func (w watcher) HandleStatus(live bool) {
	if sh, ok := w.h.(invalidation.StatusHandler); ok {
		sh.HandleStatus(live)
	}
}

// ownedFor returns a fresh session record of owner expiring in an hour.
func ownedFor(t testing.TB, owner string) tier.Record {
	rec := tiertest.Record(t, time.Now(), "session of "+owner)
	rec.Owner = owner
	return rec
}

// TestDestroyAllDynamoLocal creates sessions for one owner from 12
// goroutines on 3 nodes, each read back on every node (so every node holds
// it), while one node runs DestroyAll; every other session is missing from
// the owner index. Afterwards, no session created under the old generation
// can be read on any node, and every one created under the new generation
// can.
func TestDestroyAllDynamoLocal(t *testing.T) {
	ctx := context.Background()
	opts := tier.Options{LocalTTL: time.Hour, OwnerTTL: time.Hour} // only DestroyAll can end a session
	c := newDDBCluster(t, 3, opts, nil)
	owner := "alice-" + remotetest.Key(t)[:8]

	var (
		mu         sync.Mutex
		created    []tier.Record
		revokedErr int
		attempts   atomic.Int64
	)
	made := make(chan struct{}, 1<<14)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, node := range c.nodes {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					rec := ownedFor(t, owner)
					if attempts.Add(1)%2 == 0 {
						c.index.hide(rec.Key)
					}
					out, err := node.Create(ctx, rec)
					switch {
					case errors.Is(err, tier.ErrRevoked):
						mu.Lock()
						revokedErr++
						mu.Unlock()
						continue
					case err != nil:
						t.Errorf("Create: %v", err)
						return
					}
					// Every node holds it, if it is not revoked yet.
					for _, n := range c.nodes {
						if _, _, err := n.Get(ctx, out.Key); err != nil {
							t.Errorf("Get: %v", err)
							return
						}
					}
					mu.Lock()
					created = append(created, out)
					mu.Unlock()
					made <- struct{}{}
				}
			}()
		}
	}
	waitMade := func(n int) {
		t.Helper()
		deadline := time.After(time.Minute)
		for range n {
			select {
			case <-made:
			case <-deadline:
				t.Fatalf("creators made fewer than %d sessions within a minute", n)
			}
		}
	}
	waitMade(30)
	if err := c.nodes[0].DestroyAll(ctx, owner); err != nil {
		t.Fatal(err)
	}
	waitMade(12) // sessions created after DestroyAll, with the others racing it
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	gen, err := c.dynamo.Generation(ctx, owner)
	if err != nil || gen != 1 {
		t.Fatalf("Generation = %d, %v; want 1", gen, err)
	}
	for i, b := range c.buses {
		b.waitRevoked(t, owner, gen) // node i has handled the event
		_ = i
	}

	var before, after int
	for _, rec := range created {
		if rec.Generation < gen {
			before++
			for i, n := range c.nodes {
				if got, found, err := n.Get(ctx, rec.Key); err != nil || found {
					t.Fatalf("node %d reads a session created before DestroyAll: %+v, found %v, err %v", i, got, found, err)
				}
			}
			if _, found, err := c.dynamo.Get(ctx, rec.Key); err != nil || found {
				t.Fatalf("a revoked record is still in the table after every node refused it: found %v, err %v", found, err)
			}
			continue
		}
		after++
		for i, n := range c.nodes {
			if _, found, err := n.Get(ctx, rec.Key); err != nil || !found {
				t.Fatalf("node %d lost a session created after DestroyAll: found %v, err %v", i, found, err)
			}
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("%d sessions before DestroyAll, %d after; the test needs both", before, after)
	}
	var found uint64
	for _, n := range c.nodes {
		found += n.OwnerStats().RevokedFound
	}
	if found == 0 {
		t.Fatal("no node found a revoked record the index had missed; the test needs some")
	}
	list, err := c.nodes[1].List(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		if o.Generation < gen {
			t.Fatalf("List shows a session created before DestroyAll: %+v", o)
		}
	}
	t.Logf("%d sessions created before DestroyAll (all refused), %d after (all served), %d Creates failed with ErrRevoked, %d revoked records found by loads",
		before, after, revokedErr, found)
}

// TestDestroyAllDynamoLocalInterleavings forces, on the real engines, the
// orders in which an owned Create, a load and another node's DestroyAll
// can meet.
func TestDestroyAllDynamoLocalInterleavings(t *testing.T) {
	ctx := context.Background()
	opts := tier.Options{LocalTTL: time.Hour, OwnerTTL: time.Hour}

	// The Create has written its record (under generation 0) when
	// DestroyAll runs elsewhere, and the event reaches the creating node
	// before the Create settles: it must fail, and leave nothing.
	t.Run("revoked before the Create settles", func(t *testing.T) {
		var c *ddbCluster
		owner := "alice-" + remotetest.Key(t)[:8]
		c = newDDBCluster(t, 2, opts, func(i int, r ownersRemote) remote.Store {
			if i != 0 {
				return r
			}
			return &revokingCreate{ownersRemote: r, revoke: func() {
				if err := c.nodes[1].DestroyAll(ctx, owner); err != nil {
					t.Error(err)
				}
				c.buses[0].waitRevoked(t, owner, 1)
			}}
		})
		rec := ownedFor(t, owner)
		c.index.hide(rec.Key) // so DestroyAll leaves it in the table
		if out, err := c.nodes[0].Create(ctx, rec); !errors.Is(err, tier.ErrRevoked) {
			t.Fatalf("Create = %+v, %v; want ErrRevoked", out, err)
		}
		for i, n := range c.nodes {
			if _, found, err := n.Get(ctx, rec.Key); err != nil || found {
				t.Fatalf("node %d: found %v, err %v; want no session", i, found, err)
			}
		}
	})

	// The same, but the event reaches the creating node only after the
	// Create returned and its node installed the session: the event must
	// evict it, and the load that follows refuse it.
	t.Run("revoked after the Create settled", func(t *testing.T) {
		var c *ddbCluster
		var release func()
		owner := "alice-" + remotetest.Key(t)[:8]
		c = newDDBCluster(t, 2, opts, func(i int, r ownersRemote) remote.Store {
			if i != 0 {
				return r
			}
			return &revokingCreate{ownersRemote: r, revoke: func() {
				release = c.buses[0].hold()
				if err := c.nodes[1].DestroyAll(ctx, owner); err != nil {
					t.Error(err)
				}
			}}
		})
		rec := ownedFor(t, owner)
		c.index.hide(rec.Key)
		if _, err := c.nodes[0].Create(ctx, rec); err != nil {
			t.Fatalf("Create whose node does not know of the DestroyAll yet: %v", err)
		}
		// The bound: until the event arrives, the creating node serves
		// the session it holds; the other node refuses it.
		tiertest.MustGet(t, c.nodes[0], rec.Key)
		if _, found, err := c.nodes[1].Get(ctx, rec.Key); err != nil || found {
			t.Fatalf("the node that ran DestroyAll: found %v, err %v; want no session", found, err)
		}
		release()
		c.buses[0].waitRevoked(t, owner, 1)
		if _, found, err := c.nodes[0].Get(ctx, rec.Key); err != nil || found {
			t.Fatalf("after the event: found %v, err %v; want no session", found, err)
		}
	})

	// A load of the session is in flight on a third node when DestroyAll
	// runs, and the event reaches that node before the load settles.
	t.Run("load in flight", func(t *testing.T) {
		var gate *gatedRemote
		c := newDDBCluster(t, 3, opts, func(i int, r ownersRemote) remote.Store {
			if i != 2 {
				return r
			}
			gate = newGated(r)
			return &gatedOwners{laggingIndex: newLaggingIndexOf(r), gate: gate}
		})
		owner := "alice-" + remotetest.Key(t)[:8]
		rec := ownedFor(t, owner)
		c.index.hide(rec.Key)
		if _, err := c.nodes[0].Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		done := make(chan bool)
		go func() {
			_, found, _ := c.nodes[2].Get(ctx, rec.Key)
			done <- found
		}()
		gate.waitEntered(t, 1)
		if err := c.nodes[1].DestroyAll(ctx, owner); err != nil {
			t.Fatal(err)
		}
		c.buses[2].waitRevoked(t, owner, 1)
		gate.open()
		if <-done {
			t.Fatal("the load in flight returned the revoked session")
		}
		if _, found, err := c.nodes[2].Get(ctx, rec.Key); err != nil || found {
			t.Fatalf("node 2 after the load: found %v, err %v; want no session", found, err)
		}
	})
}

// newLaggingIndexOf returns r as a *laggingIndex, wrapping it if needed.
func newLaggingIndexOf(r ownersRemote) *laggingIndex {
	if l, ok := r.(*laggingIndex); ok {
		return l
	}
	return newLaggingIndex(r)
}
