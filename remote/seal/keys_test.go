package seal

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tiersession/tiersession/remote"
)

func TestNewKeyringValidates(t *testing.T) {
	k := func(id string) Key { return Key{ID: id, Secret: secret(t)} }
	tests := []struct {
		name    string
		primary Key
		older   []Key
		why     string
	}{
		{"empty id", k(""), nil, "key id of 0 bytes"},
		{"long id", k(strings.Repeat("k", MaxKeyIDLen+1)), nil, "key id of 65 bytes"},
		{"space in id", k("key 1"), nil, "printable ASCII"},
		{"non-ASCII id", k("schlüssel"), nil, "printable ASCII"},
		{"short secret", Key{ID: "k", Secret: make([]byte, 16)}, nil, "16 bytes (want 32)"},
		{"no secret", Key{ID: "k"}, nil, "0 bytes (want 32)"},
		{"bad older key", k("k1"), []Key{{ID: "k0", Secret: make([]byte, 31)}}, "31 bytes"},
		{"duplicate id", k("k1"), []Key{k("k0"), k("k1")}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.primary, tt.older...)
			if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("err = %v; want ErrInvalid saying %q", err, tt.why)
			}
			for _, key := range append([]Key{tt.primary}, tt.older...) {
				if len(key.Secret) > 0 && strings.Contains(err.Error(), fmt.Sprintf("%x", key.Secret[:4])) {
					t.Fatal("the error shows a secret")
				}
			}
		})
	}
	if _, err := NewKeyring(k(strings.Repeat("k", MaxKeyIDLen)), k("~!#")); err != nil {
		t.Fatalf("longest id and punctuation: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	k1, k2, k3 := Key{"k1", secret(t)}, Key{"k2", secret(t)}, Key{"k3", secret(t)}
	kr, err := NewKeyring(Key{ID: k1.ID, Secret: bytes.Clone(k1.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	// The keyring keeps its own copy: changing the caller's slice after
	// NewKeyring, Add or Rotate changes nothing.
	caller := bytes.Clone(k2.Secret)
	if err := kr.Add(Key{ID: "k2", Secret: caller}); err != nil {
		t.Fatal(err)
	}
	caller[0] ^= 0xff
	if key, _ := kr.DecryptionKey(ctx, "k2"); !bytes.Equal(key, k2.Secret) {
		t.Fatal("the keyring shares the caller's secret")
	}
	if _, key, _ := kr.EncryptionKey(ctx); !bytes.Equal(key, k1.Secret) {
		t.Fatal("EncryptionKey does not return the primary's secret")
	}

	want := func(primary string, ids ...string) {
		t.Helper()
		if got := kr.Primary(); got != primary {
			t.Fatalf("Primary = %q; want %q", got, primary)
		}
		if id, _, _ := kr.EncryptionKey(ctx); id != primary {
			t.Fatalf("EncryptionKey id = %q; want %q", id, primary)
		}
		if got := kr.IDs(); !slices.Equal(got, ids) {
			t.Fatalf("IDs = %v; want %v", got, ids)
		}
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr bool
		primary string
		ids     []string
	}{
		{"add k2", func() error { return kr.Add(k2) }, false, "k1", []string{"k1", "k2"}},
		{"add k2 again", func() error { return kr.Add(k2) }, false, "k1", []string{"k1", "k2"}},
		{"add k2 with another secret", func() error { return kr.Add(Key{"k2", secret(t)}) }, true, "k1", []string{"k1", "k2"}},
		{"rotate to k2", func() error { return kr.Rotate(k2) }, false, "k2", []string{"k1", "k2"}},
		{"retire the primary", func() error { return kr.Retire("k2") }, true, "k2", []string{"k1", "k2"}},
		{"retire k1", func() error { return kr.Retire("k1") }, false, "k2", []string{"k2"}},
		{"retire k1 again", func() error { return kr.Retire("k1") }, false, "k2", []string{"k2"}},
		{"rotate to new k3", func() error { return kr.Rotate(k3) }, false, "k3", []string{"k2", "k3"}},
		{"rotate to an invalid key", func() error { return kr.Rotate(Key{"k4", nil}) }, true, "k3", []string{"k2", "k3"}},
	}
	for _, s := range steps {
		err := s.do()
		if (err != nil) != s.wantErr || (err != nil && !errors.Is(err, remote.ErrInvalid)) {
			t.Fatalf("%s: err = %v; want error %v (ErrInvalid)", s.name, err, s.wantErr)
		}
		want(s.primary, s.ids...)
	}
	if key, err := kr.DecryptionKey(ctx, "k2"); err != nil || !bytes.Equal(key, k2.Secret) {
		t.Fatalf("DecryptionKey(k2) = %v", err)
	}
	if _, err := kr.DecryptionKey(ctx, "k1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("DecryptionKey of a retired key: err = %v; want ErrUnknownKey", err)
	}
}

// keyIDOf returns the key id in the header of the item stored under key.
func keyIDOf(tb testing.TB, inner remote.Store, key string) string {
	tb.Helper()
	e, err := parse(raw(tb, inner, key).Data)
	if err != nil {
		tb.Fatal(err)
	}
	return e.keyID
}

// TestRotation rotates the primary key under a running store: items sealed
// with the old key keep opening, writes re-seal with the new one, and once
// the old key is retired only the items not rewritten since fail.
func TestRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, inner remote.Store) {
		kr := keyring(t, "2026-01")
		s := newStore(t, inner, Options{Keys: kr})
		active := mustCreate(t, s, sessionJSON(t))
		idle := mustCreate(t, s, []byte(`{"user":"idle"}`))

		if err := kr.Rotate(Key{"2026-02", secret(t)}); err != nil {
			t.Fatal(err)
		}
		for _, rec := range []remote.Record{active, idle} {
			if got := mustGet(t, s, rec.Key); !bytes.Equal(got.Data, rec.Data) {
				t.Fatal("an item sealed with the old key reads back other data")
			}
			if id := keyIDOf(t, inner, rec.Key); id != "2026-01" {
				t.Fatalf("a read re-sealed the item (key %q)", id)
			}
		}
		out, err := s.Put(ctx, active, 1)
		if err != nil {
			t.Fatal(err)
		}
		if id := keyIDOf(t, inner, active.Key); id != "2026-02" {
			t.Fatalf("Put sealed with key %q; want the new primary", id)
		}
		fresh := mustCreate(t, s, []byte(`{"user":"new"}`))
		if id := keyIDOf(t, inner, fresh.Key); id != "2026-02" {
			t.Fatalf("Create sealed with key %q; want the new primary", id)
		}

		if err := kr.Retire("2026-01"); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, out.Key); !bytes.Equal(got.Data, active.Data) || got.Version != 2 {
			t.Fatal("the re-sealed item does not read back")
		}
		mustGet(t, s, fresh.Key)
		if err := wantCorrupt(t, s, idle.Key); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("an item sealed with a retired key: err = %v; want ErrUnknownKey", err)
		}
	})
}

// TestFleetRotation is the two-step rotation across processes (Keyring's
// documentation): two stores with their own keyrings over one table. A
// process that seals with a key before the others know it makes its
// writes unreadable to them; after step 1 every write reads everywhere.
func TestFleetRotation(t *testing.T) {
	inner := remote.NewMemory(remote.MemoryOptions{})
	old, next := Key{"k1", secret(t)}, Key{"k2", secret(t)}
	ring := func() *Keyring {
		kr, err := NewKeyring(old)
		if err != nil {
			t.Fatal(err)
		}
		return kr
	}
	ringA, ringB := ring(), ring()
	a := newStore(t, inner, Options{Keys: ringA})
	b := newStore(t, inner, Options{Keys: ringB})

	// Skipping step 1: a rotates alone, b cannot read what a writes.
	if err := ringA.Rotate(next); err != nil {
		t.Fatal(err)
	}
	early := mustCreate(t, a, []byte("early"))
	wantCorrupt(t, b, early.Key)

	// Step 1 everywhere, then step 2 one process at a time.
	if err := ringB.Add(next); err != nil {
		t.Fatal(err)
	}
	mustGet(t, b, early.Key)
	fromB := mustCreate(t, b, []byte("from b, still k1"))
	if got := mustGet(t, a, fromB.Key); string(got.Data) != "from b, still k1" {
		t.Fatal("a cannot read b's write")
	}
	if err := ringB.Rotate(next); err != nil {
		t.Fatal(err)
	}
	fromB2 := mustCreate(t, b, []byte("from b, k2"))
	if got := mustGet(t, a, fromB2.Key); string(got.Data) != "from b, k2" || keyIDOf(t, inner, fromB2.Key) != "k2" {
		t.Fatal("a cannot read b's write under the new key")
	}
}

// TestRotateUnderLoad rotates keys while writers and readers run, for the
// race detector and to check that no read ever fails in between.
func TestRotateUnderLoad(t *testing.T) {
	kr := keyring(t, "k0")
	s := newStore(t, remote.NewMemory(remote.MemoryOptions{}), Options{Keys: kr})
	recs := make([]remote.Record, 4)
	for i := range recs {
		recs[i] = mustCreate(t, s, sessionJSON(t))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	progress := make(chan struct{}, 1) // a write and read completed
	errs := make(chan error, len(recs))
	for _, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := uint64(1); ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := s.Put(ctx, rec, v)
				if err == nil {
					_, _, err = s.Get(ctx, out.Key)
				}
				if err != nil {
					errs <- err
					return
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters()
	// Each rotation waits for a write to complete since the last, so
	// rotations and writes interleave.
	for i := 1; i <= 20; i++ {
		select {
		case <-progress:
		case err := <-errs:
			t.Fatal(err)
		}
		if err := kr.Rotate(Key{fmt.Sprintf("k%d", i), secret(t)}); err != nil {
			t.Fatal(err)
		}
	}
	stopWriters()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, rec := range recs {
		mustGet(t, s, rec.Key)
	}
}
