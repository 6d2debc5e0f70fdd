package invalidation

import (
	"bytes"
	"errors"
	"testing"
)

// testSecret is a valid secret for the tests of this file.
var testSecret = bytes.Repeat([]byte{0x5a}, MinSecretLen)

func mustKeyring(tb testing.TB, keys []Key, insecure bool) *keyring {
	tb.Helper()
	kr, err := newKeyring(keys, insecure, DefaultChannel)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func TestSignedMessageRoundTrip(t *testing.T) {
	kr := mustKeyring(t, []Key{{ID: "k1", Secret: testSecret}}, false)
	e := Event{Key: "n4bQgYhM", Version: 7, Kind: Changed, Origin: "node-a"}
	msg, err := kr.newSigner().appendMessage([]byte("prefix"), e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, []byte("prefix")) {
		t.Fatalf("appendMessage did not append: %x", msg)
	}
	msg = msg[len("prefix"):]
	enc, _ := e.MarshalBinary()
	if want := 2 + len("k1") + len(enc) + 32; len(msg) != want {
		t.Fatalf("signed message of %d bytes, want %d", len(msg), want)
	}
	got, err := kr.newVerifier().open(string(msg))
	if err != nil || got != e {
		t.Fatalf("open = %+v, %v; want %+v", got, err, e)
	}
	// An invalid event is refused and leaves the buffer as it was.
	b, err := kr.newSigner().appendMessage([]byte("x"), Event{})
	if !errors.Is(err, ErrInvalid) || string(b) != "x" {
		t.Fatalf("appendMessage(invalid) = %q, %v; want \"x\", ErrInvalid", b, err)
	}
}

// FuzzOpen feeds arbitrary messages to a verifier, as anyone able to
// PUBLISH can. It must never panic, must classify every refusal as corrupt
// or unauthenticated, and must accept nothing it did not sign itself.
func FuzzOpen(f *testing.F) {
	kr := mustKeyring(f, []Key{{ID: "k1", Secret: testSecret}}, false)
	sign := kr.newSigner()
	for _, e := range []Event{
		{Key: "k", Version: 1, Kind: Changed, Origin: "o"},
		{Key: "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", Version: 1 << 40, Kind: Deleted},
	} {
		signed, err := sign.appendMessage(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
		unsigned, _ := e.MarshalBinary()
		f.Add(unsigned)
	}
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Add([]byte{2, 0})
	f.Add([]byte{2, 200, 'k'})
	v := kr.newVerifier()
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := v.open(string(msg))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, errUnauthenticated) {
				t.Fatalf("error %v is neither corrupt nor unauthenticated", err)
			}
			return
		}
		// Accepted: it must be exactly what the signer makes of e.
		again, err := sign.appendMessage(nil, e)
		if err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("accepted %x as %+v, which signs as %x", msg, e, again)
		}
	})
}

// BenchmarkMessageAuth measures signing and verifying one message.
func BenchmarkMessageAuth(b *testing.B) {
	kr := mustKeyring(b, []Key{{ID: "2025-06", Secret: testSecret}}, false)
	sign, verify := kr.newSigner(), kr.newVerifier()
	e := Event{Key: "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", Version: 123456, Kind: Changed, Origin: "node-a"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = sign.appendMessage(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := verify.open(string(buf)); err != nil {
			b.Fatal(err)
		}
	}
}
