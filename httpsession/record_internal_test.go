package httpsession

import (
	"errors"
	"maps"
	"testing"
	"time"
)

// Tests of the record envelope (record.go) from inside the package: the
// owned session kind, which the tests through HTTP cannot corrupt byte by
// byte.

func TestOwnedRecordRoundTrip(t *testing.T) {
	created := time.Unix(1_700_000_000, 0)
	for _, o := range []owned{
		{},
		{owner: "alice"},
		{owner: "alice", meta: map[string]string{"device": "phone", "ip": "192.0.2.1", "empty": ""}},
	} {
		data := sessionData(created, o, []byte("payload"))
		p, err := parseRecord(data)
		if err != nil {
			t.Fatalf("parse(%q): %v", data, err)
		}
		if !p.created.Equal(created) || p.owned.owner != o.owner || !maps.Equal(p.owned.meta, o.meta) || string(p.payload) != "payload" {
			t.Fatalf("round trip of %+v = %+v", o, p)
		}
		if wantKind := map[bool]byte{false: kindSession, true: kindOwned}[o.owner != ""]; data[0] != wantKind {
			t.Fatalf("kind %#x; want %#x", data[0], wantKind)
		}
	}
}

func TestOwnedRecordCorrupt(t *testing.T) {
	good := sessionData(time.Unix(1, 0), owned{owner: "alice", meta: map[string]string{"k": "v"}}, []byte("p"))
	for name, b := range map[string][]byte{
		"no owner":          {kindOwned, 1},
		"empty owner":       {kindOwned, 1, 0, 0},
		"owner past end":    {kindOwned, 1, 9, 'a'},
		"no meta count":     {kindOwned, 1, 1, 'a'},
		"meta count huge":   {kindOwned, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"meta key past end": {kindOwned, 1, 1, 'a', 1, 5, 'k'},
		"meta value cut":    {kindOwned, 1, 1, 'a', 1, 1, 'k'},
		"truncated":         good[:6],
	} {
		if _, err := parseRecord(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v; want errCorrupt", name, err)
		}
	}
}

// FuzzParseRecord: parseRecord never panics, and an owned session it
// accepts encodes back to a record that parses the same.
func FuzzParseRecord(f *testing.F) {
	f.Add(sessionData(time.Unix(5, 0), owned{owner: "o", meta: map[string]string{"a": "b"}}, []byte("x")))
	f.Add(sessionData(time.Unix(5, 0), owned{}, nil))
	f.Add([]byte{kindOwned, 0, 1, 'o', 2, 1, 'a', 0, 1, 'b', 1, 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseRecord(b)
		if err != nil || p.successor != "" {
			return
		}
		again, err := parseRecord(sessionData(p.created, p.owned, p.payload))
		if err != nil || !again.created.Equal(p.created) || again.owned.owner != p.owned.owner ||
			!maps.Equal(again.owned.meta, p.owned.meta) || string(again.payload) != string(p.payload) {
			t.Fatalf("%x parses to %+v, which re-encodes to %+v, %v", b, p, again, err)
		}
	})
}
