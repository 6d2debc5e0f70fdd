package seal

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
)

// newTier returns a tier.Store over r, closed when tb ends.
func newTier(tb testing.TB, r remote.Store) *tier.Store {
	tb.Helper()
	s, err := tier.New(r, tier.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// TestOwnedThroughTier runs tier's owner operations over a sealed Memory:
// an owned Create, Get, List, End and DestroyAll, with Data sealed in the
// inner store and the owner fields beside it in clear.
func TestOwnedThroughTier(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	keys := keyring(t, "k1")
	s := newTier(t, newStore(t, m, Options{Keys: keys}))
	meta := map[string]string{"device": "phone"}
	phone, err := s.Create(ctx, tier.Record{Key: remotetest.Key(t), Data: []byte("phone's secret"), ExpiresAt: hour(), Owner: "alice", Meta: meta})
	if err != nil {
		t.Fatalf("owned Create through seal: %v", err)
	}
	if phone.Owner != "alice" || !maps.Equal(phone.Meta, meta) || phone.CreatedAt.IsZero() || string(phone.Data) != "phone's secret" {
		t.Fatalf("Create returned %+v; want the owner fields and the data", phone)
	}
	stored := raw(t, m, phone.Key)
	if bytes.Contains(stored.Data, []byte("phone's secret")) || stored.Owner != "alice" || !maps.Equal(stored.Meta, meta) {
		t.Fatalf("inner record = %+v; want Data sealed, owner and meta in clear", stored)
	}
	laptop, err := s.Create(ctx, tier.Record{Key: remotetest.Key(t), Data: []byte("laptop's"), ExpiresAt: hour(), Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	cold := newTier(t, newStore(t, m, Options{Keys: keys}))
	if got, found, err := cold.Get(ctx, phone.Key); err != nil || !found || string(got.Data) != "phone's secret" {
		t.Fatalf("Get from another node = %+v, %v, %v; want the session", got, found, err)
	}
	list, err := cold.List(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v; want 2 sessions", list, err)
	}
	byKey := map[string]tier.Owned{list[0].Key: list[0], list[1].Key: list[1]}
	if o := byKey[phone.Key]; string(o.Data) != "phone's secret" || !maps.Equal(o.Meta, meta) || o.ID != tier.SessionID(phone.Key) {
		t.Fatalf("List's phone = %+v; want its data opened, its meta and ID", o)
	}
	if err := s.End(ctx, "alice", tier.SessionID(laptop.Key)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := m.Get(ctx, laptop.Key); found {
		t.Fatal("End left the record in the inner store")
	}
	if err := s.DestroyAll(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// The other node, without a bus, holds its copy for up to OwnerTTL +
	// LocalTTL; this one stops at once.
	if _, found, err := s.Get(ctx, phone.Key); err != nil || found {
		t.Fatalf("Get after DestroyAll = found %v, %v; want no session", found, err)
	}
	if g, err := m.Generation(ctx, "alice"); err != nil || g != 1 {
		t.Fatalf("inner generation = %d, %v; want 1", g, err)
	}
	again, err := s.Create(ctx, tier.Record{Key: remotetest.Key(t), Data: []byte("again"), ExpiresAt: hour(), Owner: "alice"})
	if err != nil || again.Generation != 1 {
		t.Fatalf("Create after DestroyAll = %+v, %v; want generation 1", again, err)
	}
}

// TestOwnersOffThroughTier checks that over an inner store without
// remote.Owners, tier's owner operations fail with ErrInvalid and send
// nothing, and unowned sessions work as before.
func TestOwnersOffThroughTier(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	s := newTier(t, newStore(t, withoutOwners{m}, Options{Keys: keyring(t, "k1")}))
	before := m.Requests()
	owned := tier.Record{Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: hour(), Owner: "alice"}
	if _, err := s.Create(ctx, owned); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("owned Create: err = %v; want ErrInvalid", err)
	}
	if _, err := s.List(ctx, "alice"); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("List: err = %v; want ErrInvalid", err)
	}
	if err := s.DestroyAll(ctx, "alice"); !errors.Is(err, tier.ErrInvalid) {
		t.Fatalf("DestroyAll: err = %v; want ErrInvalid", err)
	}
	if n := m.Requests() - before; n != 0 {
		t.Fatalf("sent %d requests; want none", n)
	}
	owned.Owner = ""
	if _, err := s.Create(ctx, owned); err != nil {
		t.Fatalf("unowned Create: %v", err)
	}
}

// TestListSkipsUnopenable checks that List leaves out, and counts, the
// records that do not open, and fails when the key provider does.
func TestListSkipsUnopenable(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	keys := keyring(t, "k1")
	s := newStore(t, m, Options{Keys: keys})
	sealed, err := s.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("sealed"), ExpiresAt: hour(), Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Written around the wrapper: not sealed, so it does not open.
	if _, err := m.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("planted"), ExpiresAt: hour(), Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].Key != sealed.Key || string(list[0].Data) != "sealed" {
		t.Fatalf("List = %+v, %v; want the sealed record only", list, err)
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Fatalf("Stats.Corrupt = %d; want 1", st.Corrupt)
	}
	// With AllowPlaintext, both open.
	lenient := newStore(t, m, Options{Keys: keys, AllowPlaintext: true})
	if list, err := lenient.List(ctx, "alice"); err != nil || len(list) != 2 {
		t.Fatalf("List with AllowPlaintext = %+v, %v; want both records", list, err)
	}
	// A key provider that fails is not a corrupt record.
	down := errors.New("KMS down")
	failing := newStore(t, m, Options{Keys: failingKeys{down}})
	if list, err := failing.List(ctx, "alice"); !errors.Is(err, remote.ErrUnavailable) || !errors.Is(err, down) {
		t.Fatalf("List with a failing key provider = %+v, %v; want ErrUnavailable", list, err)
	}
}

// TestOwnedSlack checks ownedSlack against the largest owner fields that
// ValidOwner and ValidMeta accept, and the figure doc.go gives for it.
func TestOwnedSlack(t *testing.T) {
	key := remotetest.Key(t)
	owner := strings.Repeat("o", remote.MaxOwnerLen)
	meta := make(map[string]string)
	for i := range remote.MaxMetaEntries {
		meta[string(rune('a'+i))] = ""
	}
	meta["a"] = strings.Repeat("v", remote.MaxMetaSize-remote.MaxMetaEntries)
	if err := remote.ValidOwner(owner); err != nil {
		t.Fatal(err)
	}
	if err := remote.ValidMeta(meta); err != nil {
		t.Fatal(err)
	}
	if got := remote.MaxDataSize(key) - remote.MaxOwnedDataSize(key, owner, meta); got != ownedSlack {
		t.Fatalf("largest owner fields take %d bytes; ownedSlack is %d", got, ownedSlack)
	}
	if ownedSlack < 600 || ownedSlack > 800 {
		t.Fatalf("ownedSlack = %d; doc.go says some 700 bytes", ownedSlack)
	}
}

// TestOwnedPutSize checks the Data limit of a Put to an owned record,
// whose owner fields the caller need not pass: a Put near MaxDataSize
// reads them (one more request), any other sends the Put alone.
func TestOwnedPutSize(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	s := newStore(t, m, Options{Keys: keyring(t, "k1")})
	meta := map[string]string{"device": strings.Repeat("d", 300)}
	owned, err := s.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: hour(), Owner: "alice", Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	plain := mustCreate(t, s, []byte("y"))
	room := remote.MaxOwnedDataSize(owned.Key, "alice", meta)
	put := func(rec remote.Record, n int, expected uint64) (int64, error) {
		before := m.Requests()
		rec.Data = make([]byte, n) // compresses to a few bytes
		_, err := s.Put(ctx, rec, expected)
		return m.Requests() - before, err
	}
	tests := []struct {
		name     string
		rec      remote.Record
		n        int
		expected uint64
		requests int64
		tooLarge bool
	}{
		{"owned, small", owned, 100, 1, 1, false},
		{"owned, over its room", owned, room + 1, 2, 1, true},
		{"owned, at its room", owned, room, 2, 2, false},
		{"owned, over MaxDataSize", owned, remote.MaxDataSize(owned.Key) + 1, 3, 0, true},
		{"unowned, MaxDataSize", plain, remote.MaxDataSize(plain.Key), 1, 2, false},
	}
	for _, tt := range tests {
		n, err := put(tt.rec, tt.n, tt.expected)
		if tt.tooLarge != errors.Is(err, remote.ErrTooLarge) || (!tt.tooLarge && err != nil) {
			t.Fatalf("%s: Put of %d bytes: err = %v; want too large %v", tt.name, tt.n, err, tt.tooLarge)
		}
		if n != tt.requests {
			t.Fatalf("%s: Put sent %d requests; want %d", tt.name, n, tt.requests)
		}
	}
	if got := mustGet(t, s, owned.Key); got.Version != 3 || len(got.Data) != room || got.Owner != "alice" {
		t.Fatalf("owned record = version %d, %d bytes, owner %q; want version 3, %d bytes, alice", got.Version, len(got.Data), got.Owner, room)
	}
	// Over an inner store without owners, no record is owned: no read.
	bare := newStore(t, withoutOwners{m}, Options{})
	before := m.Requests()
	if _, err := bare.Put(ctx, remote.Record{Key: plain.Key, Data: make([]byte, remote.MaxDataSize(plain.Key)), ExpiresAt: hour()}, 2); err != nil {
		t.Fatal(err)
	}
	if n := m.Requests() - before; n != 1 {
		t.Fatalf("Put over a store without owners sent %d requests; want 1", n)
	}
}
