package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// The tamper tests plant bytes in the inner store directly, as someone with
// write access to the table could, and check that the sealing store refuses
// to open them: remote.ErrCorrupt, counted, nothing returned.

// TestTamperByte flips one byte in each field of a stored item, in place
// (same key, same version), and checks that the item no longer opens.
func TestTamperByte(t *testing.T) {
	idLen := len("k1")
	nonceAt := fixedHeaderLen + idLen
	bodyAt := nonceAt + nonceLen
	fields := []struct {
		name string
		at   func(n int) int // offset in an item of n bytes
		flip byte            // the bits to flip there
		why  string          // expected in the error
	}{
		{"magic", func(int) int { return 0 }, 0x04, "not sealed"},
		{"format version", func(int) int { return 1 }, 0x04, "format version"},
		{"flags, compressed bit", func(int) int { return 2 }, flagZstd, "does not authenticate"},
		{"flags, unknown bit", func(int) int { return 2 }, 0x40, "unknown flags"},
		{"key id length", func(int) int { return 3 }, 0x04, ""},
		{"key id", func(int) int { return fixedHeaderLen }, 0x04, "unknown key id"},
		{"nonce, key derivation half", func(int) int { return nonceAt }, 0x04, "does not authenticate"},
		{"nonce, GCM half", func(int) int { return nonceAt + saltLen }, 0x04, "does not authenticate"},
		{"first ciphertext byte", func(int) int { return bodyAt }, 0x04, "does not authenticate"},
		{"last ciphertext byte", func(n int) int { return n - tagLen - 1 }, 0x04, "does not authenticate"},
		{"tag", func(n int) int { return n - 1 }, 0x04, "does not authenticate"},
	}
	for _, mode := range []struct {
		name string
		opts Options
		data []byte
	}{
		{"compressed", Options{}, sessionJSON(t)},
		{"uncompressed", Options{DisableCompression: true}, []byte(`{"user":"jane"}`)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, inner remote.Store) {
				opts := mode.opts
				opts.Keys = keyring(t, "k1")
				s := newStore(t, inner, opts)
				for _, f := range fields {
					t.Run(f.name, func(t *testing.T) {
						rec := mustCreate(t, s, mode.data)
						stored := raw(t, inner, rec.Key).Data
						stored[f.at(len(stored))] ^= f.flip
						setRaw(t, inner, rec.Key, stored, 1)
						err := wantCorrupt(t, s, rec.Key)
						if !strings.Contains(err.Error(), f.why) {
							t.Errorf("err = %v; want it to say %q", err, f.why)
						}
						if _, err := s.Touch(ctx, rec.Key, hour().Add(time.Hour)); !errors.Is(err, remote.ErrCorrupt) {
							t.Errorf("Touch: err = %v; want ErrCorrupt", err)
						}
					})
				}
				t.Run("truncated", func(t *testing.T) {
					for _, n := range []int{0, 1, fixedHeaderLen, bodyAt, bodyAt + tagLen - 1} {
						rec := mustCreate(t, s, mode.data)
						setRaw(t, inner, rec.Key, raw(t, inner, rec.Key).Data[:n], 1)
						wantCorrupt(t, s, rec.Key)
					}
				})
			})
		})
	}
}

// TestTamperMove checks the binding to the storage key and the version:
// bytes swapped between two items, or written back at a later version, do
// not open, though each is a genuine ciphertext under a known key.
func TestTamperMove(t *testing.T) {
	forEachBackend(t, func(t *testing.T, inner remote.Store) {
		s := newStore(t, inner, Options{Keys: keyring(t, "k1")})

		t.Run("swap two items", func(t *testing.T) {
			alice := mustCreate(t, s, []byte(`{"user":"alice","admin":true}`))
			mallory := mustCreate(t, s, []byte(`{"user":"mallory","admin":false}`))
			a, m := raw(t, inner, alice.Key).Data, raw(t, inner, mallory.Key).Data
			setRaw(t, inner, mallory.Key, a, 1)
			setRaw(t, inner, alice.Key, m, 1)
			wantCorrupt(t, s, mallory.Key)
			wantCorrupt(t, s, alice.Key)
		})

		t.Run("replay an old version", func(t *testing.T) {
			rec := mustCreate(t, s, []byte(`{"cart":["book"],"paid":false}`))
			v1 := raw(t, inner, rec.Key)
			rec.Data = []byte(`{"cart":[],"paid":true}`)
			if _, err := s.Put(ctx, rec, 1); err != nil {
				t.Fatal(err)
			}
			// v1's bytes written as version 3 through the inner store.
			if _, err := inner.Put(ctx, v1, 2); err != nil {
				t.Fatal(err)
			}
			if got := raw(t, inner, rec.Key); got.Version != 3 || !bytes.Equal(got.Data, v1.Data) {
				t.Fatalf("inner store holds version %d; want v1's bytes at version 3", got.Version)
			}
			wantCorrupt(t, s, rec.Key)
		})

		t.Run("restore at the same version opens", func(t *testing.T) {
			// The documented limit: deleted, then written back raw as a
			// new version 1, an item is indistinguishable from the
			// original. Sealing protects contents, not presence.
			rec := mustCreate(t, s, []byte(`{"user":"jane"}`))
			v1 := raw(t, inner, rec.Key).Data
			setRaw(t, inner, rec.Key, v1, 1)
			if got := mustGet(t, s, rec.Key); string(got.Data) != `{"user":"jane"}` {
				t.Fatalf("restored item read as %q", got.Data)
			}
		})
	})
}

// TestWrongKey checks items sealed under a key the reader does not have,
// or has under the same id with another secret, or under a retired id.
func TestWrongKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, inner remote.Store) {
		writer := newStore(t, inner, Options{Keys: keyring(t, "k1")})
		rec := mustCreate(t, writer, sessionJSON(t))
		tests := []struct {
			name    string
			keys    KeyProvider
			unknown bool // the error also matches ErrUnknownKey
		}{
			{"unknown id", keyring(t, "k2"), true},
			{"same id, another secret", keyring(t, "k1"), false},
			{"no keys at all", nil, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				opts := Options{Keys: tt.keys, AllowPlaintext: true} // no way around a missing key
				reader := newStore(t, inner, opts)
				err := wantCorrupt(t, reader, rec.Key)
				if errors.Is(err, ErrUnknownKey) != tt.unknown {
					t.Errorf("err = %v; want it to match ErrUnknownKey: %v", err, tt.unknown)
				}
			})
		}
	})
}

// TestUnknownFormat checks that a header from a later format version, or
// with flags this version does not know, is refused before any key is
// asked for, even when the rest is well formed.
func TestUnknownFormat(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	s := newStore(t, m, Options{Keys: failingKeys{errors.New("must not be asked")}, AllowPlaintext: true})
	tests := []struct {
		name string
		data []byte
		why  string
	}{
		{"format version 2", []byte{magic, 2, 0, 0, 'x'}, "unknown format version 2"},
		{"format version 0", []byte{magic, 0, 0, 0, 'x'}, "unknown format version 0"},
		{"unknown flag", []byte{magic, formatV1, 0x80, 0, 'x'}, "unknown flags"},
		{"key id on an unencrypted item", []byte{magic, formatV1, 0, 1, 'k', 'x'}, "key id on an unencrypted item"},
		{"encrypted without a key id", append([]byte{magic, formatV1, flagEncrypted, 0}, make([]byte, 40)...), "key id of 0 bytes"},
		{"key id too long", append([]byte{magic, formatV1, flagEncrypted, MaxKeyIDLen + 1}, make([]byte, 200)...), "key id of 65 bytes"},
		{"header only", []byte{magic, formatV1, 0}, "truncated header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := remotetest.Key(t)
			setRaw(t, m, key, tt.data, 1)
			if err := wantCorrupt(t, s, key); !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("err = %v; want it to say %q", err, tt.why)
			}
		})
	}
}

// TestDecompressionBomb checks that a compressed payload that expands past
// what a record may hold is refused: just past it, and far past the
// decoder's limit (which stops decoding there).
func TestDecompressionBomb(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	s := newStore(t, m, Options{})
	c, err := codec()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{remote.MaxDataSize(strings.Repeat("k", 43)) + 1, 16 << 20} {
		bomb := c.compress([]byte{magic, formatV1, flagZstd, 0}, make([]byte, size))
		key := remotetest.Key(t)
		setRaw(t, m, key, bomb, 1)
		wantCorrupt(t, s, key)
	}
}

// TestPlaintextPolicy checks which stores read which items: unsealed
// legacy Data, sealed but unencrypted items and encrypted ones, with and
// without Keys and AllowPlaintext.
func TestPlaintextPolicy(t *testing.T) {
	m := remote.NewMemory(remote.MemoryOptions{})
	keys := keyring(t, "k1")
	legacy := []byte(`{"user":"jane"}`)
	items := map[string]string{}
	items["legacy"] = remotetest.Key(t)
	setRaw(t, m, items["legacy"], legacy, 1)
	items["compressed only"] = mustCreate(t, newStore(t, m, Options{}), legacy).Key
	items["encrypted"] = mustCreate(t, newStore(t, m, Options{Keys: keys}), legacy).Key

	tests := []struct {
		name     string
		opts     Options
		opens    []string // the others are ErrCorrupt
		counted  int      // of those, how many as Plaintext
		failures int
	}{
		{"keys", Options{Keys: keys}, []string{"encrypted"}, 0, 2},
		{"keys, plaintext allowed", Options{Keys: keys, AllowPlaintext: true}, []string{"legacy", "compressed only", "encrypted"}, 2, 0},
		{"no keys", Options{}, []string{"compressed only"}, 0, 2},
		{"no keys, plaintext allowed", Options{AllowPlaintext: true}, []string{"legacy", "compressed only"}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, m, tt.opts)
			for item, key := range items {
				rec, found, err := s.Get(ctx, key)
				opens := false
				for _, o := range tt.opens {
					opens = opens || o == item
				}
				switch {
				case opens && (err != nil || !found || !bytes.Equal(rec.Data, legacy)):
					t.Errorf("%s item: found %v, err %v; want it to open", item, found, err)
				case !opens && !errors.Is(err, remote.ErrCorrupt):
					t.Errorf("%s item: found %v, err %v; want ErrCorrupt", item, found, err)
				}
			}
			if st := s.Stats(); st.Plaintext != uint64(tt.counted) || st.Corrupt != uint64(tt.failures) {
				t.Errorf("Stats = %+v; want Plaintext %d, Corrupt %d", st, tt.counted, tt.failures)
			}
		})
	}
}
