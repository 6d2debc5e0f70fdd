package remotetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// The cases of the remote.Owners contract. Each runs on a fresh store and
// names its owners after a fresh key, so that no two runs share one.

// owners returns e's store as remote.Owners, skipping t unless the target
// has owners on.
func (e *env) owners(t *testing.T) remote.Owners {
	t.Helper()
	o, ok := e.Store.(remote.Owners)
	if !e.Target.Owners || !ok {
		t.Skip("the store has no owners (Target.Owners)")
	}
	return o
}

// owner returns a fresh owner id.
func owner(t testing.TB, name string) string { return name + "-" + Key(t)[:16] }

func (e *env) ownedRecord(t testing.TB, owner, data string, meta map[string]string) remote.Record {
	rec := e.record(t, data)
	rec.Owner, rec.Meta = owner, meta
	return rec
}

func (e *env) createOwned(t testing.TB, owner, data string, meta map[string]string) remote.Record {
	t.Helper()
	rec, err := e.Store.Create(e.ctx, e.ownedRecord(t, owner, data, meta))
	if err != nil {
		t.Fatalf("Create of an owned record: %v", err)
	}
	return rec
}

// wantOwned fails unless rec carries the owner fields want carries.
func wantOwned(t testing.TB, what string, rec, want remote.Record) {
	t.Helper()
	if rec.Owner != want.Owner || !maps.Equal(rec.Meta, want.Meta) ||
		!rec.CreatedAt.Equal(want.CreatedAt) || rec.Generation != want.Generation {
		t.Fatalf("%s: owner %q, meta %v, created %v, generation %d; want %q, %v, %v, %d", what,
			rec.Owner, rec.Meta, rec.CreatedAt, rec.Generation, want.Owner, want.Meta, want.CreatedAt, want.Generation)
	}
}

// listKeys returns the keys List returns for owner, in order.
func listKeys(recs []remote.Record) []string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	return keys
}

// eventuallyList calls List until its keys are want (an owner index may
// lag the table), for at most ten seconds, and returns the last answer.
func (e *env) eventuallyList(t *testing.T, o remote.Owners, owner string, want []string) []remote.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	delay := time.Millisecond
	for {
		recs, err := o.List(e.ctx, owner)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got := listKeys(recs)
		if slices.Equal(got, want) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("List = %v; want %v", got, want)
		}
		// Waiting on the index, an outside system, not on this test.
		time.Sleep(delay)
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// testOwnersOff checks that a store which implements remote.Owners but was
// built without owners refuses them before any request, rather than
// storing a session that no Revoke could reach.
func testOwnersOff(t *testing.T, e *env) {
	o, ok := e.Store.(remote.Owners)
	if !ok || e.Target.Owners {
		t.Skip("the store has owners on, or no remote.Owners at all")
	}
	before := e.Requests()
	alice := owner(t, "alice")
	if _, err := e.Store.Create(e.ctx, e.ownedRecord(t, alice, "x", nil)); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("owned Create: err = %v; want ErrInvalid", err)
	}
	if _, err := o.Generation(e.ctx, alice); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("Generation: err = %v; want ErrInvalid", err)
	}
	if _, err := o.Revoke(e.ctx, alice); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("Revoke: err = %v; want ErrInvalid", err)
	}
	if _, err := o.List(e.ctx, alice); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("List: err = %v; want ErrInvalid", err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Errorf("sent %d requests; want none", n)
	}
}

// testOwnerFields checks that Create sets the owner fields and that
// nothing else changes them.
func testOwnerFields(t *testing.T, e *env) {
	e.owners(t)
	alice := owner(t, "alice")
	meta := map[string]string{"device": "Firefox on Linux", "ip": "192.0.2.7", "empty": ""}
	in := e.ownedRecord(t, alice, "v1", meta)
	in.CreatedAt, in.Generation = time.Unix(1, 0), 99 // ignored
	rec, err := e.Store.Create(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	meta["device"] = "changed by the caller after Create"
	want := remote.Record{Owner: alice, Meta: map[string]string{"device": "Firefox on Linux", "ip": "192.0.2.7", "empty": ""},
		CreatedAt: e.clock.Now(), Generation: 0}
	wantOwned(t, "Create", rec, want)
	rec.Meta["device"] = "changed through the returned record"
	got := e.mustGet(t, rec.Key)
	wantOwned(t, "Get", got, want)
	got.Meta["device"] = "changed through a read record"
	if cg, ok := e.Store.(remote.ConsistentGetter); ok {
		got, _, err := cg.GetConsistent(e.ctx, rec.Key)
		if err != nil {
			t.Fatal(err)
		}
		wantOwned(t, "GetConsistent", got, want)
	}

	// Put and Touch keep the stored owner fields, whatever they are given.
	e.clock.Advance(2 * time.Second)
	for i, put := range []remote.Record{
		{Key: rec.Key, Data: []byte("no owner fields"), ExpiresAt: rec.ExpiresAt},
		{Key: rec.Key, Data: []byte("other owner fields"), ExpiresAt: rec.ExpiresAt,
			Owner: "mallory", Meta: map[string]string{"device": "x"}, CreatedAt: time.Unix(5, 0), Generation: 7},
	} {
		out, err := e.Store.Put(e.ctx, put, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		wantOwned(t, "Put", out, want)
		if string(out.Data) != string(put.Data) || out.Version != uint64(i+2) {
			t.Fatalf("Put returned %+v; want the data written at version %d", out, i+2)
		}
		wantOwned(t, "Get after Put", e.mustGet(t, rec.Key), want)
	}
	out, err := e.Store.Touch(e.ctx, rec.Key, rec.ExpiresAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantOwned(t, "Touch", out, want)
	wantOwned(t, "Get after Touch", e.mustGet(t, rec.Key), want)

	// A record without owner has no owner fields.
	plain := e.create(t, "plain")
	wantOwned(t, "unowned Create", plain, remote.Record{})
	wantOwned(t, "unowned Get", e.mustGet(t, plain.Key), remote.Record{})

	// Create over an expired owned record replaces its owner fields too.
	e.clock.Advance(3 * time.Hour)
	again, err := e.Store.Create(e.ctx, remote.Record{Key: rec.Key, Data: []byte("new"), ExpiresAt: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantOwned(t, "Create over an expired owned record", e.mustGet(t, again.Key), remote.Record{})
}

// testOwnerList checks what List returns, and that deleted and expired
// records leave it at once, whatever the index says.
func testOwnerList(t *testing.T, e *env) {
	o := e.owners(t)
	alice, bob := owner(t, "alice"), owner(t, "bob")
	var recs []remote.Record
	for i := range 3 {
		recs = append(recs, e.createOwned(t, alice, "a"+strconv.Itoa(i), map[string]string{"n": strconv.Itoa(i)}))
		e.clock.Advance(time.Second) // CreatedAt orders them
	}
	b := e.createOwned(t, bob, "b", nil)
	e.create(t, "nobody's")

	got := e.eventuallyList(t, o, alice, listKeys(recs))
	for i, r := range got {
		wantOwned(t, "List", r, recs[i])
		if string(r.Data) != "a"+strconv.Itoa(i) || r.Version != 1 || !r.ExpiresAt.Equal(recs[i].ExpiresAt) {
			t.Fatalf("List[%d] = %+v; want %+v", i, r, recs[i])
		}
	}
	e.eventuallyList(t, o, bob, []string{b.Key})
	if none, err := o.List(e.ctx, owner(t, "carol")); err != nil || len(none) != 0 {
		t.Fatalf("List of an owner without records = %v, %v; want none", listKeys(none), err)
	}

	// Deleted and expired records are not listed, even while an index
	// still names them.
	if err := e.Store.Delete(e.ctx, recs[1].Key, 0); err != nil {
		t.Fatal(err)
	}
	short := e.ownedRecord(t, alice, "short", nil)
	short.ExpiresAt = e.clock.Now().Add(10 * time.Second)
	if _, err := e.Store.Create(e.ctx, short); err != nil {
		t.Fatal(err)
	}
	e.eventuallyList(t, o, alice, []string{recs[0].Key, recs[2].Key, short.Key})
	e.clock.Advance(10 * time.Second)
	if got, err := o.List(e.ctx, alice); err != nil || !slices.Equal(listKeys(got), []string{recs[0].Key, recs[2].Key}) {
		t.Fatalf("List after a delete and an expiry = %v, %v; want %v", listKeys(got), err, []string{recs[0].Key, recs[2].Key})
	}
}

// testOwnerRevoke checks generations: Revoke raises the owner's, records
// keep theirs, later Creates take the new one, other owners are not
// touched.
func testOwnerRevoke(t *testing.T, e *env) {
	o := e.owners(t)
	alice, bob := owner(t, "alice"), owner(t, "bob")
	generation := func(owner string, want uint64) {
		t.Helper()
		if g, err := o.Generation(e.ctx, owner); err != nil || g != want {
			t.Fatalf("Generation = %d, %v; want %d", g, err, want)
		}
	}
	generation(alice, 0)
	old := e.createOwned(t, alice, "old", nil)
	bobs := e.createOwned(t, bob, "bob's", nil)
	for want := uint64(1); want <= 2; want++ {
		if g, err := o.Revoke(e.ctx, alice); err != nil || g != want {
			t.Fatalf("Revoke = %d, %v; want %d", g, err, want)
		}
	}
	generation(alice, 2)
	generation(bob, 0)
	// Revoked records are still returned, with the generation they were
	// created under: the caller compares.
	if got := e.mustGet(t, old.Key); got.Generation != 0 || got.Owner != alice {
		t.Fatalf("Get of a revoked record = %+v; want it, at generation 0", got)
	}
	if got := e.mustGet(t, bobs.Key); got.Generation != 0 {
		t.Fatalf("another owner's record = %+v; want generation 0", got)
	}
	e.clock.Advance(time.Second) // CreatedAt orders List
	fresh := e.createOwned(t, alice, "fresh", nil)
	if fresh.Generation != 2 {
		t.Fatalf("Create after two Revokes: generation %d; want 2", fresh.Generation)
	}
	got := e.eventuallyList(t, o, alice, []string{old.Key, fresh.Key})
	if got[0].Generation != 0 || got[1].Generation != 2 {
		t.Fatalf("List generations %d, %d; want 0 (revoked) and 2", got[0].Generation, got[1].Generation)
	}
}

// testOwnerRevokeLostResponse checks that a Revoke retried after a lost
// response raises the generation once.
func testOwnerRevokeLostResponse(t *testing.T, e *env) {
	o := e.owners(t)
	alice := owner(t, "alice")
	e.LoseNextResponse()
	if g, err := o.Revoke(e.ctx, alice); err != nil || g != 1 {
		t.Fatalf("Revoke whose first response was lost = %d, %v; want 1", g, err)
	}
	if g, err := o.Generation(e.ctx, alice); err != nil || g != 1 {
		t.Fatalf("Generation = %d, %v; want 1: raised once", g, err)
	}
}

// testOwnerCreateRace revokes the owner at each instant of an owned Create
// where a concurrent Revoke may land. The Create must fail with ErrRevoked
// and leave no record that is not revoked.
func testOwnerCreateRace(t *testing.T, e *env) {
	o := e.owners(t)
	if e.CreateHook == nil {
		t.Skip("the target has no CreateHook")
	}
	for _, stage := range []string{"read", "written"} {
		t.Run(stage, func(t *testing.T) {
			alice := owner(t, "alice")
			var revoked uint64
			e.CreateHook(func(s string) {
				if s != stage || revoked != 0 {
					return
				}
				g, err := o.Revoke(e.ctx, alice)
				if err != nil {
					t.Errorf("Revoke in the hook: %v", err)
				}
				revoked = g
			})
			rec := e.ownedRecord(t, alice, "racing", nil)
			out, err := e.Store.Create(e.ctx, rec)
			e.CreateHook(nil)
			if !errors.Is(err, remote.ErrRevoked) {
				t.Fatalf("Create racing a Revoke = %+v, %v; want ErrRevoked", out, err)
			}
			if revoked != 1 {
				t.Fatalf("the hook revoked to generation %d; want 1", revoked)
			}
			if got, found, err := e.Store.Get(e.ctx, rec.Key); err != nil || (found && got.Generation >= revoked) {
				t.Fatalf("after the failed Create: Get = %+v, found %v, %v; want nothing, or a revoked record", got, found, err)
			}
			// A Create that starts after the Revoke is not revoked.
			after := e.createOwned(t, alice, "after", nil)
			if after.Generation != revoked {
				t.Fatalf("Create after the Revoke: generation %d; want %d", after.Generation, revoked)
			}
		})
	}
}

// testOwnerInvalid checks that bad owners and meta are refused with
// ErrInvalid before any request, without echoing the owner.
func testOwnerInvalid(t *testing.T, e *env) {
	o := e.owners(t)
	many := make(map[string]string)
	for i := range remote.MaxMetaEntries + 1 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	badOwners := []struct{ name, owner string }{
		{"too long", strings.Repeat("o", remote.MaxOwnerLen+1)},
		{"not UTF-8", "owner\xff"},
	}
	badMeta := []struct {
		name string
		meta map[string]string
	}{
		{"too many entries", many},
		{"too large", map[string]string{"k": strings.Repeat("v", remote.MaxMetaSize)}},
		{"empty key", map[string]string{"": "v"}},
		{"key not UTF-8", map[string]string{"k\xff": "v"}},
		{"value not UTF-8", map[string]string{"k": "v\xff"}},
	}
	before := e.Requests()
	for _, b := range badOwners {
		if err := remote.ValidOwner(b.owner); !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("ValidOwner(%s) = %v; want ErrInvalid", b.name, err)
		}
		_, err := e.Store.Create(e.ctx, e.ownedRecord(t, b.owner, "x", nil))
		if !errors.Is(err, remote.ErrInvalid) || strings.Contains(err.Error(), b.owner) {
			t.Errorf("Create with an owner %s: err = %v; want ErrInvalid, without the owner", b.name, err)
		}
	}
	for _, b := range append(badOwners, struct{ name, owner string }{"empty", ""}) {
		for name, call := range map[string]func() error{
			"Generation": func() error { _, err := o.Generation(e.ctx, b.owner); return err },
			"Revoke":     func() error { _, err := o.Revoke(e.ctx, b.owner); return err },
			"List":       func() error { _, err := o.List(e.ctx, b.owner); return err },
		} {
			if err := call(); !errors.Is(err, remote.ErrInvalid) {
				t.Errorf("%s with an owner %s: err = %v; want ErrInvalid", name, b.name, err)
			}
		}
	}
	alice := owner(t, "alice")
	for _, b := range badMeta {
		if err := remote.ValidMeta(b.meta); !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("ValidMeta(%s) = %v; want ErrInvalid", b.name, err)
		}
		if _, err := e.Store.Create(e.ctx, e.ownedRecord(t, alice, "x", b.meta)); !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("Create with meta %s: err = %v; want ErrInvalid", b.name, err)
		}
	}
	if _, err := e.Store.Create(e.ctx, e.ownedRecord(t, "", "x", map[string]string{"k": "v"})); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("Create with meta and no owner: err = %v; want ErrInvalid", err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Errorf("invalid calls sent %d requests; want none", n)
	}
	// The limits themselves are fine.
	most := make(map[string]string)
	for i := range remote.MaxMetaEntries {
		most["k"+strconv.Itoa(i%10)+strconv.Itoa(i/10)] = ""
	}
	most["k00"] = strings.Repeat("v", remote.MaxMetaSize-3*remote.MaxMetaEntries)
	if err := remote.ValidMeta(most); err != nil {
		t.Fatalf("ValidMeta at the limits: %v", err)
	}
	longest := strings.Repeat("o", remote.MaxOwnerLen)
	rec := e.createOwned(t, longest, "x", most)
	wantOwned(t, "Get at the limits", e.mustGet(t, rec.Key), rec)
}

// testOwnerContextDone checks the owner operations under an ended
// context: nothing is sent, and the owned Create and Revoke say nothing
// was written.
func testOwnerContextDone(t *testing.T, e *env) {
	o := e.owners(t)
	alice := owner(t, "alice")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	before := e.Requests()
	rec := e.ownedRecord(t, alice, "x", nil)
	if _, err := e.Store.Create(ctx, rec); !errors.Is(err, context.Canceled) || !errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("owned Create: err = %v; want context.Canceled and ErrUnavailable", err)
	}
	if _, err := o.Revoke(ctx, alice); !errors.Is(err, context.Canceled) || !errors.Is(err, remote.ErrUnavailable) {
		t.Errorf("Revoke: err = %v; want context.Canceled and ErrUnavailable", err)
	}
	if _, err := o.Generation(ctx, alice); !errors.Is(err, context.Canceled) {
		t.Errorf("Generation: err = %v; want context.Canceled", err)
	}
	if _, err := o.List(ctx, alice); !errors.Is(err, context.Canceled) {
		t.Errorf("List: err = %v; want context.Canceled", err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Errorf("sent %d requests; want none", n)
	}
	e.mustMiss(t, rec.Key)
	if g, err := o.Generation(e.ctx, alice); err != nil || g != 0 {
		t.Fatalf("Generation = %d, %v; want 0", g, err)
	}
}

// testOwnerSize checks the room an owned record leaves for Data, at Create
// (checked before any request) and at a Put that does not repeat the owner
// fields (checked by the backend).
func testOwnerSize(t *testing.T, e *env) {
	e.owners(t)
	alice := owner(t, "alice")
	meta := map[string]string{"device": strings.Repeat("d", 200)}
	rec := e.ownedRecord(t, alice, "", meta)
	room := remote.MaxOwnedDataSize(rec.Key, alice, meta)
	if room >= remote.MaxDataSize(rec.Key) || room < remote.MaxDataSize(rec.Key)-1024 {
		t.Fatalf("MaxOwnedDataSize = %d, MaxDataSize = %d; want less, by under 1 KB", room, remote.MaxDataSize(rec.Key))
	}
	before := e.Requests()
	rec.Data = make([]byte, room+1)
	if _, err := e.Store.Create(e.ctx, rec); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("owned Create of %d bytes: err = %v; want ErrTooLarge", len(rec.Data), err)
	}
	if n := e.Requests() - before; n != 0 {
		t.Fatalf("the oversized Create sent %d requests; want none", n)
	}
	rec.Data = rec.Data[:room]
	out, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatalf("owned Create of MaxOwnedDataSize bytes: %v", err)
	}
	// A Put of MaxDataSize bytes fits a record without owner, not this
	// one: the backend refuses it, and nothing changes.
	big := remote.Record{Key: out.Key, Data: make([]byte, remote.MaxDataSize(out.Key)), ExpiresAt: out.ExpiresAt}
	if _, err := e.Store.Put(e.ctx, big, 1); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("Put of MaxDataSize bytes to an owned record: err = %v; want ErrTooLarge", err)
	}
	if got := e.mustGet(t, out.Key); got.Version != 1 || len(got.Data) != room {
		t.Fatalf("record after the refused Put: version %d, %d bytes; want version 1, %d bytes", got.Version, len(got.Data), room)
	}
	big.Data = big.Data[:room]
	if got, err := e.Store.Put(e.ctx, big, 1); err != nil || got.Version != 2 || got.Owner != alice {
		t.Fatalf("Put of MaxOwnedDataSize bytes = %+v, %v; want version 2, owner kept", got.Version, err)
	}
}

// testOwnerLostResponse checks that an owned Create whose response was
// lost settles by its write id, generation and all.
func testOwnerLostResponse(t *testing.T, e *env) {
	o := e.owners(t)
	alice := owner(t, "alice")
	if _, err := o.Revoke(e.ctx, alice); err != nil {
		t.Fatal(err)
	}
	rec := e.ownedRecord(t, alice, "x", map[string]string{"device": "phone"})
	e.LoseNextResponse()
	out, err := e.Store.Create(e.ctx, rec)
	if err != nil {
		t.Fatalf("owned Create whose response was lost: %v", err)
	}
	want := remote.Record{Owner: alice, Meta: rec.Meta, CreatedAt: e.clock.Now(), Generation: 1}
	wantOwned(t, "Create", out, want)
	wantOwned(t, "Get", e.mustGet(t, rec.Key), want)
	out.Data = []byte("y")
	e.LoseNextResponse()
	if out, err = e.Store.Put(e.ctx, out, 1); err != nil || out.Version != 2 {
		t.Fatalf("Put whose response was lost = %+v, %v; want version 2", out, err)
	}
	wantOwned(t, "Put", out, want)
}
