package invalidation_test

import (
	"bytes"
	"encoding"
	"errors"
	"strings"
	"testing"

	"github.com/tiersession/tiersession/invalidation"
)

var (
	_ encoding.BinaryMarshaler   = invalidation.Event{}
	_ encoding.BinaryAppender    = invalidation.Event{}
	_ encoding.BinaryUnmarshaler = (*invalidation.Event)(nil)
)

// hashKey looks like the storage keys the HTTP layer derives: 43 bytes of
// base64url SHA-256.
const hashKey = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    invalidation.Event
	}{
		{"changed", ev(hashKey, 1, invalidation.Changed, "node-a")},
		{"touched", ev(hashKey, 42, invalidation.Touched, "node-b")},
		{"deleted without version", ev(hashKey, 0, invalidation.Deleted, "n")},
		{"max version", ev(hashKey, ^uint64(0), invalidation.Changed, "node-a")},
		{"empty origin", ev(hashKey, 7, invalidation.Changed, "")},
		{"one-byte key", ev("k", 7, invalidation.Changed, "o")},
		{"longest key and origin", ev(strings.Repeat("k", invalidation.MaxKeyLen), 300, invalidation.Touched, strings.Repeat("o", invalidation.MaxOriginLen))},
		{"binary bytes", ev("\x00\xff\x01", 1<<35, invalidation.Deleted, "\x00")},
		{"revoked owner", ev("owner-id", 3, invalidation.Revoked, "n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.e.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			var got invalidation.Event
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary(%x): %v", b, err)
			}
			if got != tt.e {
				t.Fatalf("round trip = %+v, want %+v", got, tt.e)
			}
			appended, err := tt.e.AppendBinary([]byte("prefix"))
			if err != nil || !bytes.Equal(appended, append([]byte("prefix"), b...)) {
				t.Fatalf("AppendBinary = %x, %v; want prefix+%x", appended, err, b)
			}
		})
	}
}

func TestEventEncodingIsCompact(t *testing.T) {
	b, err := ev(hashKey, 7, invalidation.Changed, "node-a").MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{1, 1, 7, 6}, "node-a"+hashKey...)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding = %x, want %x", b, want)
	}
}

func TestMarshalRejectsInvalidEvents(t *testing.T) {
	tests := []struct {
		name string
		e    invalidation.Event
	}{
		{"empty key", ev("", 1, invalidation.Changed, "o")},
		{"key too long", ev(strings.Repeat("k", invalidation.MaxKeyLen+1), 1, invalidation.Changed, "o")},
		{"origin too long", ev("k", 1, invalidation.Changed, strings.Repeat("o", invalidation.MaxOriginLen+1))},
		{"zero kind", ev("k", 1, 0, "o")},
		{"unknown kind", ev("k", 1, 5, "o")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.e.AppendBinary([]byte("x"))
			if !errors.Is(err, invalidation.ErrInvalid) {
				t.Fatalf("AppendBinary error = %v, want ErrInvalid", err)
			}
			if string(b) != "x" {
				t.Fatalf("AppendBinary returned %q on error, want the input unchanged", b)
			}
		})
	}
}

func TestUnmarshalRejectsGarbage(t *testing.T) {
	valid := []byte{1, 1, 7, 1, 'o', 'k'}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"one byte", []byte{1}},
		{"unknown format version", []byte{2, 1, 7, 1, 'o', 'k'}},
		{"format version zero", []byte{0, 1, 7, 1, 'o', 'k'}},
		{"kind zero", []byte{1, 0, 7, 1, 'o', 'k'}},
		{"kind too big", []byte{1, 9, 7, 1, 'o', 'k'}},
		{"version varint cut", []byte{1, 1, 0x80}},
		{"version varint overflows", []byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 'k'}},
		{"version varint too long", []byte{1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 'k'}},
		{"no origin length", []byte{1, 1, 7}},
		{"origin length cut", []byte{1, 1, 7, 0x80}},
		{"origin past the end", []byte{1, 1, 7, 9, 'o'}},
		{"origin too long", append([]byte{1, 1, 7, 0x80, 0x02}, bytes.Repeat([]byte("o"), 300)...)},
		{"no key", []byte{1, 1, 7, 1, 'o'}},
		{"key too long", append([]byte{1, 1, 7, 0}, bytes.Repeat([]byte("k"), invalidation.MaxKeyLen+1)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ev("keep", 3, invalidation.Touched, "me")
			err := e.UnmarshalBinary(tt.b)
			if !errors.Is(err, invalidation.ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) error = %v, want ErrCorrupt", tt.b, err)
			}
			if e != ev("keep", 3, invalidation.Touched, "me") {
				t.Fatalf("UnmarshalBinary changed the event on error: %+v", e)
			}
		})
	}
	var e invalidation.Event
	if err := e.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the valid base case does not decode: %v", err)
	}
}

func TestUnmarshalDoesNotRetainInput(t *testing.T) {
	b, _ := ev("key", 1, invalidation.Changed, "origin").MarshalBinary()
	var e invalidation.Event
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if e.Key != "key" || e.Origin != "origin" {
		t.Fatalf("event changed with its input buffer: %+v", e)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[invalidation.Kind]string{
		invalidation.Changed: "changed",
		invalidation.Touched: "touched",
		invalidation.Deleted: "deleted",
		invalidation.Revoked: "revoked",
		0:                    "kind(0)",
		200:                  "kind(200)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// FuzzUnmarshal feeds arbitrary bytes to the decoder. It must never panic;
// whatever it accepts must be a valid event that encodes and decodes back
// to itself. Without -fuzz it runs the seed corpus as a normal test.
func FuzzUnmarshal(f *testing.F) {
	for _, e := range []invalidation.Event{
		ev(hashKey, 1, invalidation.Changed, "node-a"),
		ev("k", 0, invalidation.Deleted, ""),
		ev("k", ^uint64(0), invalidation.Touched, strings.Repeat("o", invalidation.MaxOriginLen)),
	} {
		b, err := e.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0x80})
	f.Add([]byte{1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 'k'})
	f.Add([]byte{1, 2, 1, 0xff, 0x7f, 'k'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e invalidation.Event
		if err := e.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, invalidation.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		again, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded event %+v does not encode: %v", e, err)
		}
		var back invalidation.Event
		if err := back.UnmarshalBinary(again); err != nil || back != e {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", e, back, err)
		}
	})
}
