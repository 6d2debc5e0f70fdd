package tier_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// ownersRemote is a remote with owners, as the tests wrap it.
type ownersRemote interface {
	remote.Store
	remote.Owners
	remote.ConsistentGetter
}

// laggingIndex is a remote whose owner index has not seen some records
// yet: List leaves out the keys hidden with hide, as DynamoDB's eventually
// consistent index leaves out a session created a moment ago.
type laggingIndex struct {
	ownersRemote
	mu     sync.Mutex
	hidden map[string]bool
}

func newLaggingIndex(r ownersRemote) *laggingIndex {
	return &laggingIndex{ownersRemote: r, hidden: make(map[string]bool)}
}

func (l *laggingIndex) hide(key string) {
	l.mu.Lock()
	l.hidden[key] = true
	l.mu.Unlock()
}

func (l *laggingIndex) List(ctx context.Context, owner string) ([]remote.Record, error) {
	recs, err := l.ownersRemote.List(ctx, owner)
	l.mu.Lock()
	defer l.mu.Unlock()
	var shown []remote.Record
	for _, r := range recs {
		if !l.hidden[r.Key] {
			shown = append(shown, r)
		}
	}
	return shown, err
}

// withoutOwners hides the remote's owners, as a wrapper that does not pass
// them on (remote/seal, say) would.
type withoutOwners struct{ remote.Store }

func (f *fixture) owned(t testing.TB, owner, data string) tier.Record {
	rec := f.record(t, data)
	rec.Owner = owner
	return rec
}

func mustCreate(t testing.TB, s *tier.Store, rec tier.Record) tier.Record {
	t.Helper()
	out, err := s.Create(context.Background(), rec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return out
}

// mustMiss fails unless s answers that key holds no session.
func mustMiss(t testing.TB, s *tier.Store, key string) {
	t.Helper()
	rec, found, err := s.Get(context.Background(), key)
	if err != nil || found {
		t.Fatalf("Get = %+v, found %v, err %v; want no session", rec, found, err)
	}
}

func TestOwnedCreateListEnd(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	in := f.owned(t, "alice", "phone's")
	in.Meta = map[string]string{"device": "phone"}
	phone := mustCreate(t, s, in)
	if phone.Owner != "alice" || phone.Meta["device"] != "phone" || phone.Generation != 0 || !phone.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("Create returned %+v; want the owner fields as stored", phone)
	}
	// Get answers alike from the remote and from the local tier: without
	// owner fields.
	cold := f.store(t, nil, tier.Options{})
	for _, n := range []*tier.Store{s, cold} {
		if got := mustGet(t, n, phone.Key); got.Owner != "" || got.Meta != nil || got.Generation != 0 || string(got.Data) != "phone's" {
			t.Fatalf("Get = %+v; want the session without owner fields", got)
		}
	}
	f.clock.Advance(time.Second)
	laptop := mustCreate(t, s, f.owned(t, "alice", "laptop's"))
	mustCreate(t, s, f.owned(t, "bob", "bob's"))

	list, err := cold.List(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Key != phone.Key || list[1].Key != laptop.Key {
		t.Fatalf("List = %+v; want alice's phone, then her laptop", list)
	}
	if list[0].ID != tier.SessionID(phone.Key) || !maps.Equal(list[0].Meta, in.Meta) || string(list[0].Data) != "phone's" {
		t.Fatalf("List[0] = %+v; want the phone's ID, meta and data", list[0])
	}
	id := list[0].ID
	if len(id) != 22 || id == phone.Key || tier.SessionID(laptop.Key) == id {
		t.Fatalf("SessionID = %q; want 22 bytes, not the key, one per session", id)
	}

	// End checks the owner: bob cannot end alice's session by its id.
	if err := s.End(f.ctx, "bob", id); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("End by another owner: err = %v; want ErrNotFound", err)
	}
	if err := s.End(f.ctx, "alice", "no-such-id"); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("End of an unknown id: err = %v; want ErrNotFound", err)
	}
	mustGet(t, cold, phone.Key)
	if err := s.End(f.ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, s, phone.Key)
	if _, found, _ := f.remote.Get(f.ctx, phone.Key); found {
		t.Fatal("End left the record in the remote")
	}
	if list, err := s.List(f.ctx, "alice"); err != nil || len(list) != 1 || list[0].Key != laptop.Key {
		t.Fatalf("List after End = %+v, %v; want the laptop only", list, err)
	}
}

func TestDestroyAll(t *testing.T) {
	f := newFixture()
	s := f.store(t, nil, tier.Options{})
	var alices []tier.Record
	for range 3 {
		alices = append(alices, mustCreate(t, s, f.owned(t, "alice", "a")))
	}
	bobs := mustCreate(t, s, f.owned(t, "bob", "b"))
	plain := mustCreate(t, s, f.record(t, "nobody's"))
	for _, r := range alices {
		mustGet(t, s, r.Key) // held locally
	}
	if err := s.DestroyAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, r := range alices {
		mustMiss(t, s, r.Key)
		if _, found, _ := f.remote.Get(f.ctx, r.Key); found {
			t.Fatal("DestroyAll left a listed record in the remote")
		}
	}
	mustGet(t, s, bobs.Key)
	mustGet(t, s, plain.Key)
	if g, _ := f.remote.Generation(f.ctx, "alice"); g != 1 {
		t.Fatalf("alice's generation = %d; want 1", g)
	}
	// Logging in again after logging out everywhere works.
	again := mustCreate(t, s, f.owned(t, "alice", "again"))
	if again.Generation != 1 {
		t.Fatalf("Create after DestroyAll: generation %d; want 1", again.Generation)
	}
	mustGet(t, f.store(t, nil, tier.Options{}), again.Key)
	if list, err := s.List(f.ctx, "alice"); err != nil || len(list) != 1 || list[0].Key != again.Key {
		t.Fatalf("List = %+v, %v; want the new session only", list, err)
	}
	if st := s.OwnerStats(); st.DestroyAll != 1 || st.Evicted != 3 || st.CleanupErrors != 0 {
		t.Fatalf("OwnerStats = %+v; want 1 DestroyAll that evicted 3 copies", st)
	}
}

// TestDestroyAllIndexLag is the case the generations exist for: a session
// the owner index does not list yet survives DestroyAll's deletes, and no
// node may serve it all the same.
func TestDestroyAllIndexLag(t *testing.T) {
	f := newFixture()
	r := newLaggingIndex(f.remote)
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	t.Cleanup(func() { bus.Close() })
	a := f.store(t, r, tier.Options{Bus: bus})
	b := f.store(t, r, tier.Options{Bus: bus})
	listed := mustCreate(t, a, f.owned(t, "alice", "listed"))
	unlisted := mustCreate(t, a, f.owned(t, "alice", "just created"))
	r.hide(unlisted.Key)
	flush(t, bus)               // a's events reach b before its read...
	mustGet(t, b, unlisted.Key) // ...which b then holds
	if err := a.DestroyAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	flush(t, bus)
	if _, found, _ := f.remote.Get(f.ctx, unlisted.Key); !found {
		t.Fatal("the unlisted record is gone from the remote; the test needs it left behind")
	}
	// A node that never held it refuses it by its generation, and
	// deletes it.
	cold := f.store(t, r, tier.Options{})
	mustMiss(t, cold, unlisted.Key)
	if st := cold.OwnerStats(); st.RevokedFound != 1 || st.GenerationReads != 1 {
		t.Fatalf("the cold node's OwnerStats = %+v; want one generation read, one revoked record found", st)
	}
	if _, found, _ := f.remote.Get(f.ctx, unlisted.Key); found {
		t.Fatal("the revoked record is still in the remote after a load found it")
	}
	// The nodes that held it dropped their copies.
	mustMiss(t, a, listed.Key)
	mustMiss(t, a, unlisted.Key)
	mustMiss(t, b, unlisted.Key)
	if st := b.OwnerStats(); st.RevokedReceived != 1 || st.Evicted != 1 {
		t.Fatalf("b's OwnerStats = %+v; want one event that evicted one copy", st)
	}
	if st := a.OwnerStats(); st.Evicted != 2 || st.RevokedReceived != 0 {
		t.Fatalf("a's OwnerStats = %+v; want its 2 copies evicted by its own DestroyAll", st)
	}
	// Writes to it fail too.
	unlisted.Data = []byte("late save")
	if _, err := b.Save(f.ctx, unlisted); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("Save of a revoked session: err = %v; want ErrNotFound", err)
	}
}

// TestRevokedBeforeLoadInstalls forces a load of a session to read it
// before its owner's sessions are revoked and to settle after this node
// learnt of it: what it read must not go into the local tier.
func TestRevokedBeforeLoadInstalls(t *testing.T) {
	f := newFixture()
	r := newLaggingIndex(f.remote)
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	t.Cleanup(func() { bus.Close() })
	a := f.store(t, r, tier.Options{Bus: bus})
	rec := mustCreate(t, a, f.owned(t, "alice", "x"))
	r.hide(rec.Key)

	t.Run("read of the session in flight", func(t *testing.T) {
		g := &gatedOwners{laggingIndex: r, gate: newGated(r)}
		b := f.store(t, g, tier.Options{Bus: bus})
		done := make(chan bool)
		go func() {
			_, found, _ := b.Get(f.ctx, rec.Key)
			done <- found
		}()
		g.gate.waitEntered(t, 1) // b's read is in flight
		if err := a.DestroyAll(f.ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		flush(t, bus) // b learns generation 1
		g.gate.open()
		if <-done {
			t.Fatal("b's load returned the session revoked while it was in flight")
		}
		mustMiss(t, b, rec.Key)
	})

	t.Run("read of the generation in flight", func(t *testing.T) {
		rec := mustCreate(t, a, f.owned(t, "alice", "y")) // generation 1
		r.hide(rec.Key)
		g := &gatedOwners{laggingIndex: r, genGate: make(chan struct{}), genRead: make(chan struct{}, 1)}
		b := f.store(t, g, tier.Options{Bus: bus})
		done := make(chan bool)
		go func() {
			_, found, _ := b.Get(f.ctx, rec.Key)
			done <- found
		}()
		<-g.genRead // b read generation 1, not returned yet
		if err := a.DestroyAll(f.ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		flush(t, bus) // b learns generation 2; it holds nothing to evict yet
		close(g.genGate)
		// The load compares with generation 1 and finds the session
		// live, but the install, under the owner lock, sees 2.
		if <-done {
			t.Fatal("b's load returned a session revoked before it could install it")
		}
		mustMiss(t, b, rec.Key)
	})
}

// gatedOwners holds remote Gets (gate) or Generation answers (genGate)
// until the test releases them.
type gatedOwners struct {
	*laggingIndex
	gate    *gatedRemote
	genGate chan struct{} // closed to release Generation answers
	genRead chan struct{} // one value per Generation that read its answer
}

func (g *gatedOwners) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	if g.gate != nil {
		return g.gate.Get(ctx, key)
	}
	return g.laggingIndex.Get(ctx, key)
}

func (g *gatedOwners) Generation(ctx context.Context, owner string) (uint64, error) {
	gen, err := g.laggingIndex.Generation(ctx, owner)
	if g.genGate != nil {
		g.genRead <- struct{}{}
		<-g.genGate
	}
	return gen, err
}

// TestWriteToRevokedSession checks the write path: a Save that lands on a
// session revoked elsewhere is refused, whether this node knew it before
// the write or learns it from the remote after OwnerTTL.
func TestWriteToRevokedSession(t *testing.T) {
	f := newFixture()
	r := newLaggingIndex(f.remote)
	const ttl = 10 * time.Second
	opts := tier.Options{LocalTTL: ttl, OwnerTTL: ttl}
	a := f.store(t, r, opts) // no bus: a learns only from the remote
	b := f.store(t, r, opts)
	saved := mustCreate(t, a, f.owned(t, "alice", "saved by b"))
	held := mustCreate(t, a, f.owned(t, "alice", "held by a"))
	r.hide(saved.Key)
	r.hide(held.Key)
	got := mustGet(t, a, held.Key)
	if err := b.DestroyAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}

	// b knows: its Save lands in the remote, which still holds the
	// record, and is refused all the same.
	saved.Data = []byte("v2")
	if out, err := b.Save(f.ctx, saved); !errors.Is(err, tier.ErrNotFound) {
		t.Fatalf("Save of a revoked session = %+v, %v; want ErrNotFound", out, err)
	}
	if _, found, _ := f.remote.Get(f.ctx, saved.Key); found {
		t.Fatal("the revoked record is still in the remote after a Save found it")
	}
	mustMiss(t, b, saved.Key)

	// a does not know: it trusts generation 0 for OwnerTTL, so within it
	// its copy and its writes go on (the bound without a bus).
	got.Data = []byte("v2")
	if got, err := a.Save(f.ctx, got); err != nil || got.Version != 2 {
		t.Fatalf("Save within OwnerTTL = %+v, %v; want version 2", got, err)
	}
	mustGet(t, a, held.Key)
	f.clock.Advance(ttl)
	mustMiss(t, a, held.Key) // reloaded, generation read again: revoked
	if st := a.OwnerStats(); st.GenerationReads != 1 || st.RevokedFound != 1 {
		t.Fatalf("a's OwnerStats = %+v; want one generation read, one revoked record found", st)
	}
	if _, found, _ := f.remote.Get(f.ctx, held.Key); found {
		t.Fatal("the revoked record is still in the remote after a load found it")
	}
}

// TestCreateRevokedOnArrival checks an owned Create that this node learns
// was revoked between the remote's check and the install.
func TestCreateRevokedOnArrival(t *testing.T) {
	f := newFixture()
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	t.Cleanup(func() { bus.Close() })
	var b *tier.Store
	r := &revokingCreate{ownersRemote: f.remote, revoke: func() {
		if err := b.DestroyAll(f.ctx, "alice"); err != nil {
			t.Error(err)
		}
		flush(t, bus)
	}}
	a := f.store(t, r, tier.Options{Bus: bus})
	b = f.store(t, f.remote, tier.Options{Bus: bus})
	rec := f.owned(t, "alice", "x")
	if out, err := a.Create(f.ctx, rec); !errors.Is(err, tier.ErrRevoked) {
		t.Fatalf("Create revoked as it returned = %+v, %v; want ErrRevoked", out, err)
	}
	mustMiss(t, a, rec.Key)
	if _, found, _ := f.remote.Get(f.ctx, rec.Key); found {
		t.Fatal("the revoked record is still in the remote")
	}
}

// revokingCreate runs revoke after each Create has written its record and
// before it returns.
type revokingCreate struct {
	ownersRemote
	revoke func()
}

func (r *revokingCreate) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	out, err := r.ownersRemote.Create(ctx, rec)
	r.revoke()
	return out, err
}

// TestOwnersNeedRemoteOwners checks that a Store over a remote without
// owners refuses owned sessions before any request, rather than let the
// remote store one that no DestroyAll could reach.
func TestOwnersNeedRemoteOwners(t *testing.T) {
	f := newFixture()
	s := f.store(t, withoutOwners{f.remote}, tier.Options{})
	before := f.remote.Requests()
	if _, err := s.Create(f.ctx, f.owned(t, "alice", "x")); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("owned Create: err = %v; want ErrInvalid", err)
	}
	if _, err := s.List(f.ctx, "alice"); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("List: err = %v; want ErrInvalid", err)
	}
	if err := s.DestroyAll(f.ctx, "alice"); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("DestroyAll: err = %v; want ErrInvalid", err)
	}
	if err := s.End(f.ctx, "alice", "id"); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("End: err = %v; want ErrInvalid", err)
	}
	if n := f.remote.Requests() - before; n != 0 {
		t.Fatalf("sent %d requests; want none", n)
	}
	owners := f.store(t, nil, tier.Options{})
	if err := owners.DestroyAll(f.ctx, ""); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("DestroyAll of an empty owner: err = %v; want ErrInvalid", err)
	}
}

// TestGapForgetsGenerations checks that a bus gap makes a node read its
// owners' generations again: Revoked events may have been lost with it.
func TestGapForgetsGenerations(t *testing.T) {
	f := newFixture()
	r := newLaggingIndex(f.remote)
	bus := newDownBus()
	bus.setUp()
	a := f.store(t, r, tier.Options{Bus: bus, LocalTTL: time.Hour, MinPurgeInterval: time.Nanosecond})
	rec := mustCreate(t, a, f.owned(t, "alice", "x"))
	r.hide(rec.Key)
	mustGet(t, a, rec.Key)
	// A DestroyAll whose event a never gets.
	if _, err := f.remote.Revoke(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, a, rec.Key) // still held: nothing told a
	purges := a.Stats().BusPurges
	bus.handler.HandleGap()
	if a.Stats().BusPurges != purges+1 {
		t.Fatal("the gap did not purge at once")
	}
	mustMiss(t, a, rec.Key) // reloaded, generation read again: revoked
}
