package remotetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// invalidKeys are storage keys every Store refuses with ErrInvalid, before
// any request. The SDK's JSON encoding turns each byte that is not valid
// UTF-8 into U+FFFD, so a store that sent such a key would file
// "user\xff", "user\xfe" and "user\uFFFD" under one item.
var invalidKeys = []struct {
	name string
	key  string
}{
	{"empty", ""},
	{"invalid byte 0xff", "user\xff"},
	{"invalid byte 0xfe", "user\xfe"},
	{"surrogate half", "user\xed\xa0\x80"}, // U+D800 encoded as if it were a character
	{"truncated sequence", "user\xe2\x82"},
	{"overlong encoding", "user\xc0\xaf"}, // '/' in two bytes
	{"longer than MaxKeySize", strings.Repeat("k", remote.MaxKeySize+1)},
	{"longer than MaxKeySize in bytes only", strings.Repeat("é", remote.MaxKeySize/2+1)},
	{"longer than DynamoDB's 2048-byte key", strings.Repeat("k", 2049)},
	{"reserved prefix", remote.ReservedPrefix + "owner/someone"},
}

// keyOp is one Store method called with a key.
type keyOp struct {
	name string
	call func(ctx context.Context, s remote.Store, key string, exp time.Time) error
}

// keyOps returns a call of every method of s that takes a key.
func keyOps(s remote.Store) []keyOp {
	ops := []keyOp{
		{"Get", func(ctx context.Context, s remote.Store, key string, _ time.Time) error {
			_, found, err := s.Get(ctx, key)
			if found {
				return errors.New("found a record")
			}
			return err
		}},
		{"Create", func(ctx context.Context, s remote.Store, key string, exp time.Time) error {
			_, err := s.Create(ctx, remote.Record{Key: key, Data: []byte("x"), ExpiresAt: exp})
			return err
		}},
		{"Put", func(ctx context.Context, s remote.Store, key string, exp time.Time) error {
			_, err := s.Put(ctx, remote.Record{Key: key, Data: []byte("x"), ExpiresAt: exp}, 1)
			return err
		}},
		{"Touch", func(ctx context.Context, s remote.Store, key string, exp time.Time) error {
			_, err := s.Touch(ctx, key, exp.Add(time.Hour))
			return err
		}},
		{"Delete", func(ctx context.Context, s remote.Store, key string, _ time.Time) error {
			return s.Delete(ctx, key, 0)
		}},
		{"conditional Delete", func(ctx context.Context, s remote.Store, key string, _ time.Time) error {
			return s.Delete(ctx, key, 1)
		}},
	}
	if _, ok := s.(remote.ConsistentGetter); ok {
		ops = append(ops, keyOp{"GetConsistent", func(ctx context.Context, s remote.Store, key string, _ time.Time) error {
			_, found, err := s.(remote.ConsistentGetter).GetConsistent(ctx, key)
			if found {
				return errors.New("found a record")
			}
			return err
		}})
	}
	return ops
}

// testInvalidKey checks that every method refuses every invalid key with
// ErrInvalid, without a request and without echoing the key.
func testInvalidKey(t *testing.T, e *env) {
	exp := e.clock.Now().Add(time.Hour)
	for _, k := range invalidKeys {
		t.Run(k.name, func(t *testing.T) {
			if err := remote.ValidKey(k.key); !errors.Is(err, remote.ErrInvalid) {
				t.Errorf("ValidKey = %v; want ErrInvalid", err)
			}
			for _, o := range keyOps(e.Store) {
				before := e.Requests()
				err := o.call(e.ctx, e.Store, k.key, exp)
				if !errors.Is(err, remote.ErrInvalid) {
					t.Errorf("%s: err = %v; want ErrInvalid", o.name, err)
					continue
				}
				if k.key != "" && strings.Contains(err.Error(), k.key) {
					t.Errorf("%s: error %q echoes the key", o.name, err)
				}
				if n := e.Requests() - before; n != 0 {
					t.Errorf("%s: sent %d requests; want none", o.name, n)
				}
			}
		})
	}
}

// testValidKey checks keys at the edges of what is valid: every method
// accepts them and each is its own record.
func testValidKey(t *testing.T, e *env) {
	prefix := Key(t)
	keys := []struct {
		name string
		key  string
	}{
		{"MaxKeySize bytes", strings.Repeat("k", remote.MaxKeySize)},
		{"MaxKeySize bytes of two-byte characters", strings.Repeat("é", remote.MaxKeySize/2)},
		{"multibyte characters", prefix + "-é-日本-🔑"},
		{"U+FFFD", prefix + "\uFFFD"},
	}
	exp := e.clock.Now().Add(time.Hour)
	for i, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			if err := remote.ValidKey(k.key); err != nil {
				t.Fatalf("ValidKey = %v; want nil", err)
			}
			rec, err := e.Store.Create(e.ctx, remote.Record{Key: k.key, Data: []byte{byte(i)}, ExpiresAt: exp})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := e.mustGet(t, k.key); got.Key != k.key || got.Version != 1 || string(got.Data) != string(rec.Data) {
				t.Fatalf("Get = %+v; want the record just created", got)
			}
			if _, err := e.Store.Touch(e.ctx, k.key, exp.Add(time.Hour)); err != nil {
				t.Fatalf("Touch: %v", err)
			}
			if _, err := e.Store.Put(e.ctx, rec, 1); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if err := e.Store.Delete(e.ctx, k.key, 2); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			e.mustMiss(t, k.key)
		})
	}
}

// testKeyAliasing checks that keys differing only in invalid bytes never
// reach one record, through any spelling.
func testKeyAliasing(t *testing.T, e *env) {
	base := Key(t)
	ff, fe, repl := base+"\xff", base+"\xfe", base+"\uFFFD"
	exp := e.clock.Now().Add(time.Hour)

	if _, err := e.Store.Create(e.ctx, remote.Record{Key: ff, Data: []byte("ff"), ExpiresAt: exp}); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("Create(%q): err = %v; want ErrInvalid", ff, err)
	}
	for _, k := range []string{fe, repl} {
		if rec, found, _ := e.Store.Get(e.ctx, k); found {
			t.Errorf("Get(%q) after Create(%q) found %+v; want nothing", k, ff, rec)
		}
	}

	// A record under the valid key that an invalid one would be encoded
	// as is reachable only through that key.
	if _, err := e.Store.Create(e.ctx, remote.Record{Key: repl, Data: []byte("repl"), ExpiresAt: exp}); err != nil {
		t.Fatalf("Create(%q): %v", repl, err)
	}
	for _, k := range []string{ff, fe} {
		if rec, found, err := e.Store.Get(e.ctx, k); found || !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("Get(%q) = %+v, found %v, err %v; want ErrInvalid", k, rec, found, err)
		}
		if _, err := e.Store.Put(e.ctx, remote.Record{Key: k, Data: []byte("overwrite"), ExpiresAt: exp}, 1); !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("Put(%q): err = %v; want ErrInvalid", k, err)
		}
		if err := e.Store.Delete(e.ctx, k, 0); !errors.Is(err, remote.ErrInvalid) {
			t.Errorf("Delete(%q): err = %v; want ErrInvalid", k, err)
		}
	}
	if got := e.mustGet(t, repl); got.Version != 1 || string(got.Data) != "repl" {
		t.Fatalf("record under %q = %+v; want version 1, data repl, untouched", repl, got)
	}
}
