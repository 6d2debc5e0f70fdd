package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// secret returns a fresh random key.
func secret(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// keyring returns a keyring of fresh keys with the given ids, the first
// primary.
func keyring(tb testing.TB, ids ...string) *Keyring {
	tb.Helper()
	keys := make([]Key, len(ids))
	for i, id := range ids {
		keys[i] = Key{ID: id, Secret: secret(tb)}
	}
	kr, err := NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

// newStore returns a sealing store over inner, failing tb on error.
func newStore(tb testing.TB, inner remote.Store, opts Options) *Store {
	tb.Helper()
	s, err := New(inner, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

var ctx = context.Background()

func hour() time.Time { return time.Now().Add(time.Hour) }

// mustCreate creates a record of data under a fresh key through s.
func mustCreate(tb testing.TB, s remote.Store, data []byte) remote.Record {
	tb.Helper()
	rec, err := s.Create(ctx, remote.Record{Key: remotetest.Key(tb), Data: data, ExpiresAt: hour()})
	if err != nil {
		tb.Fatalf("Create: %v", err)
	}
	return rec
}

// mustGet reads key through s and fails unless it is found.
func mustGet(tb testing.TB, s remote.Store, key string) remote.Record {
	tb.Helper()
	rec, found, err := s.Get(ctx, key)
	if err != nil || !found {
		tb.Fatalf("Get = found %v, err %v; want the record", found, err)
	}
	return rec
}

// raw reads the stored bytes of key through the inner store.
func raw(tb testing.TB, inner remote.Store, key string) remote.Record {
	tb.Helper()
	return mustGet(tb, inner, key)
}

// setRaw makes the inner store hold data under key at exactly version,
// through its own Create and Puts: how an attacker with write access to
// the table, or a restore from backup, would plant bytes.
func setRaw(tb testing.TB, inner remote.Store, key string, data []byte, version uint64) {
	tb.Helper()
	if err := inner.Delete(ctx, key, 0); err != nil {
		tb.Fatal(err)
	}
	rec := remote.Record{Key: key, Data: data, ExpiresAt: hour()}
	if _, err := inner.Create(ctx, rec); err != nil {
		tb.Fatal(err)
	}
	for v := uint64(1); v < version; v++ {
		if _, err := inner.Put(ctx, rec, v); err != nil {
			tb.Fatal(err)
		}
	}
}

// wantCorrupt checks that reading key through s fails with ErrCorrupt and
// returns nothing, and that Stats counted it.
func wantCorrupt(tb testing.TB, s *Store, key string) error {
	tb.Helper()
	before := s.Stats().Corrupt
	rec, found, err := s.Get(ctx, key)
	if !errors.Is(err, remote.ErrCorrupt) || found || rec.Data != nil {
		tb.Fatalf("Get = %+v, found %v, err %v; want ErrCorrupt and nothing", rec, found, err)
	}
	if n := s.Stats().Corrupt - before; n != 1 {
		tb.Fatalf("Stats.Corrupt grew by %d; want 1", n)
	}
	return err
}

func TestNewValidates(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	tests := []struct {
		name  string
		inner remote.Store
		opts  Options
	}{
		{"nil inner", nil, Options{}},
		{"negative threshold", m, Options{CompressAbove: -1}},
		{"nothing to do", m, Options{DisableCompression: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.inner, tt.opts); !errors.Is(err, remote.ErrInvalid) {
				t.Fatalf("New: err = %v; want ErrInvalid", err)
			}
		})
	}
	if _, err := New(m, Options{DisableCompression: true, Keys: keyring(t, "k")}); err != nil {
		t.Fatalf("encryption only: %v", err)
	}
}

// TestRoundTrip writes and reads back payloads below, at and above the
// compression threshold, compressible or not, in every mode, and checks
// what was stored.
func TestRoundTrip(t *testing.T) {
	json := sessionJSON(t)
	noise := make([]byte, 64<<10)
	_, _ = rand.Read(noise)
	payloads := []struct {
		name       string
		data       []byte
		compresses bool // under the default threshold
	}{
		{"empty", []byte{}, false},
		{"one byte", []byte{'x'}, false},
		{"at threshold", bytes.Repeat([]byte{'a'}, DefaultCompressAbove), false},
		{"one above threshold", bytes.Repeat([]byte{'a'}, DefaultCompressAbove+1), true},
		{"3 KB JSON session", json, true},
		{"incompressible 64 KB", noise, false},
		{"starts with the magic byte", []byte{magic, formatV1, '{', '}'}, false},
	}
	modes := []struct {
		name      string
		opts      Options
		encrypted bool
		compress  bool
	}{
		{"compress and encrypt", Options{}, true, true},
		{"encrypt only", Options{DisableCompression: true}, true, false},
		{"compress only", Options{}, false, true},
		{"threshold 100", Options{CompressAbove: 100}, true, true},
	}
	forEachBackend(t, func(t *testing.T, inner remote.Store) {
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) {
				opts := m.opts
				if m.encrypted {
					opts.Keys = keyring(t, "k1")
				}
				s := newStore(t, inner, opts)
				for _, p := range payloads {
					t.Run(p.name, func(t *testing.T) {
						before := s.Stats()
						in := bytes.Clone(p.data)
						out, err := s.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: in, ExpiresAt: hour()})
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(out.Data, p.data) || out.Version != 1 {
							t.Fatalf("Create returned version %d, %d bytes; want version 1, the data", out.Version, len(out.Data))
						}
						got := mustGet(t, s, out.Key)
						if !bytes.Equal(got.Data, p.data) {
							t.Fatalf("read back %d bytes that differ from the %d written", len(got.Data), len(p.data))
						}

						stored := raw(t, inner, out.Key).Data
						e, err := parse(stored)
						if stored[0] != magic || err != nil {
							t.Fatalf("stored bytes are not sealed: %v", err)
						}
						wantCompressed := m.compress && (p.compresses || (opts.CompressAbove == 100 && p.name == "at threshold"))
						if compressed := e.flags&flagZstd != 0; compressed != wantCompressed {
							t.Errorf("compressed = %v; want %v", compressed, wantCompressed)
						}
						if encrypted := e.flags&flagEncrypted != 0; encrypted != m.encrypted {
							t.Errorf("encrypted = %v; want %v", encrypted, m.encrypted)
						}
						if m.encrypted && (e.keyID != "k1" || bytes.Contains(stored, p.data[:min(len(p.data), 32)]) && len(p.data) >= 8) {
							t.Errorf("encrypted item: key id %q, or the plaintext shows through", e.keyID)
						}
						if !wantCompressed {
							overhead := fixedHeaderLen
							if m.encrypted {
								overhead = Overhead(len("k1"))
							}
							if len(stored) != len(p.data)+overhead {
								t.Errorf("stored %d bytes for %d of data; want %d overhead", len(stored), len(p.data), overhead)
							}
						}

						st := s.Stats()
						if st.Sealed-before.Sealed != 1 || st.Opened-before.Opened != 1 ||
							st.DataBytes-before.DataBytes != uint64(len(p.data)) || st.SealedBytes-before.SealedBytes != uint64(len(stored)) {
							t.Errorf("stats went from %+v to %+v", before, st)
						}
					})
				}
			})
		}
	})
}

// TestVersionBinding checks that Put seals for the version the record gets
// and that every version reads back, through Put, Touch and GetConsistent.
func TestVersionBinding(t *testing.T) {
	forEachBackend(t, func(t *testing.T, inner remote.Store) {
		s := newStore(t, inner, Options{Keys: keyring(t, "k1")})
		rec := mustCreate(t, s, []byte("v1"))
		for v := uint64(1); v <= 3; v++ {
			rec.Data = bytes.Repeat([]byte{byte('a' + v)}, 600*int(v))
			out, err := s.Put(ctx, rec, v)
			if err != nil || out.Version != v+1 {
				t.Fatalf("Put expecting %d = version %d, %v", v, out.Version, err)
			}
			got, found, err := s.GetConsistent(ctx, rec.Key)
			if err != nil || !found || !bytes.Equal(got.Data, rec.Data) || got.Version != v+1 {
				t.Fatalf("GetConsistent = version %d, found %v, err %v", got.Version, found, err)
			}
		}
		before := raw(t, inner, rec.Key).Data
		touched, err := s.Touch(ctx, rec.Key, hour().Add(time.Hour))
		if err != nil || !bytes.Equal(touched.Data, rec.Data) || touched.Version != 4 {
			t.Fatalf("Touch = version %d, err %v; want version 4 and the data", touched.Version, err)
		}
		if after := raw(t, inner, rec.Key).Data; !bytes.Equal(after, before) {
			t.Fatal("Touch re-sealed the stored bytes; want them unchanged")
		}
	})
}

// TestTooLarge checks both limits: Data beyond remote.MaxDataSize, refused
// before sealing, and Data whose sealed form does not fit an item, refused
// by the inner store. Neither sends a request.
func TestTooLarge(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	key := remotetest.Key(t)
	max := remote.MaxDataSize(key)
	noise := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	tests := []struct {
		name    string
		opts    Options
		data    []byte
		wantErr bool
	}{
		{"over MaxDataSize, compressible", Options{}, bytes.Repeat([]byte{'a'}, max+1), true},
		{"MaxDataSize, compressible", Options{}, bytes.Repeat([]byte{'a'}, max), false},
		{"MaxDataSize, incompressible", Options{}, noise(max), true},
		{"encrypt only, MaxDataSize", Options{DisableCompression: true}, noise(max), true},
		{"encrypt only, one byte over the sealed limit", Options{DisableCompression: true}, noise(max - Overhead(2) + 1), true},
		{"encrypt only, exactly the sealed limit", Options{DisableCompression: true}, noise(max - Overhead(2)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Keys = keyring(t, "k1")
			s := newStore(t, m, opts)
			_ = m.Delete(ctx, key, 0)
			before := m.Requests()
			_, err := s.Create(ctx, remote.Record{Key: key, Data: tt.data, ExpiresAt: hour()})
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Create of %d bytes: %v", len(tt.data), err)
				}
				if got := mustGet(t, s, key); !bytes.Equal(got.Data, tt.data) {
					t.Fatal("read back other data")
				}
				return
			}
			if !errors.Is(err, remote.ErrTooLarge) {
				t.Fatalf("Create of %d bytes: err = %v; want ErrTooLarge", len(tt.data), err)
			}
			if _, err := s.Put(ctx, remote.Record{Key: key, Data: tt.data, ExpiresAt: hour()}, 1); !errors.Is(err, remote.ErrTooLarge) {
				t.Fatalf("Put of %d bytes: err = %v; want ErrTooLarge", len(tt.data), err)
			}
			if n := m.Requests() - before; n != 0 {
				t.Fatalf("oversized writes sent %d requests; want none", n)
			}
		})
	}
}

// failingKeys is a KeyProvider whose calls fail with err.
type failingKeys struct{ err error }

func (f failingKeys) EncryptionKey(context.Context) (string, []byte, error) { return "", nil, f.err }
func (f failingKeys) DecryptionKey(context.Context, string) ([]byte, error) { return nil, f.err }

// badKeys is a KeyProvider handing out a key of the wrong size.
type badKeys struct{}

func (badKeys) EncryptionKey(context.Context) (string, []byte, error) {
	return "short", []byte("16 bytes only!!!"), nil
}
func (badKeys) DecryptionKey(context.Context, string) ([]byte, error) {
	return []byte("16 bytes only!!!"), nil
}

// TestKeyProviderFailure checks that a provider that cannot answer is
// remote.ErrUnavailable, on writes (nothing sent) and reads (nothing
// counted as corrupt), and that a context error comes through.
func TestKeyProviderFailure(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	good := newStore(t, m, Options{Keys: keyring(t, "k1")})
	rec := mustCreate(t, good, []byte("payload"))
	kms := errors.New("kms: throttled")
	tests := []struct {
		name string
		keys KeyProvider
		want error
	}{
		{"provider error", failingKeys{kms}, kms},
		{"context ended", failingKeys{context.Canceled}, context.Canceled},
		{"key of the wrong size", badKeys{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, m, Options{Keys: tt.keys})
			before := m.Requests()
			_, err := s.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: hour()})
			if !errors.Is(err, remote.ErrUnavailable) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Create: err = %v; want ErrUnavailable and %v", err, tt.want)
			}
			if n := m.Requests() - before; n != 0 {
				t.Errorf("Create sent %d requests; want none", n)
			}
			_, found, err := s.Get(ctx, rec.Key)
			if found || !errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrCorrupt) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Get: found %v, err %v; want ErrUnavailable and %v, not ErrCorrupt", found, err, tt.want)
			}
			if n := s.Stats().Corrupt; n != 0 {
				t.Errorf("Stats.Corrupt = %d; want 0", n)
			}
		})
	}
}

// TestNoGoroutines checks that sealing and opening start no goroutine that
// outlives them: the shared zstd encoder and decoder run in the caller's.
func TestNoGoroutines(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	s := newStore(t, remote.NewMemory(remote.MemoryOptions{}), Options{Keys: keyring(t, "k1")})
	json := sessionJSON(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 20 {
				rec, err := s.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: json, ExpiresAt: hour()})
				if err == nil {
					_, _, err = s.Get(ctx, rec.Key)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	goleak.VerifyNone(t, ignore)
}
