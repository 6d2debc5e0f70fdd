package httpsession_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/tiersession/tiersession/httpsession"
)

// sample holds one value of every supported type, edge cases included.
func sample() map[string]any {
	return map[string]any{
		"":          "empty key",
		"s":         "héllo",
		"s-empty":   "",
		"s-binary":  "\xff\x00not utf-8",
		"y":         []byte{0, 1, 2, 255},
		"y-empty":   []byte{},
		"i":         int64(-42),
		"i-min":     int64(math.MinInt64),
		"i-max":     int64(math.MaxInt64),
		"f":         3.25,
		"f-nan":     math.NaN(),
		"f-inf":     math.Inf(-1),
		"f-neg0":    math.Copysign(0, -1),
		"b-true":    true,
		"b-false":   false,
		"t":         time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC),
		"t-old":     time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		"t-before0": time.Unix(-1, 999_999_999).UTC(),
	}
}

// equalValues compares decoded maps, NaN and -0 by bits.
func equalValues(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		if fa, ok := va.(float64); ok {
			if fb, ok := vb.(float64); !ok || math.Float64bits(fa) != math.Float64bits(fb) {
				return false
			}
			continue
		}
		if ta, ok := va.(time.Time); ok {
			if tb, ok := vb.(time.Time); !ok || !ta.Equal(tb) || tb.Location() != time.UTC {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(va, vb) {
			return false
		}
	}
	return true
}

func TestBinaryCodecRoundTrip(t *testing.T) {
	c := httpsession.BinaryCodec{}
	for _, in := range []map[string]any{{}, sample()} {
		b, err := c.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !equalValues(in, out) {
			t.Fatalf("round trip:\n in %v\nout %v", in, out)
		}
		again, _ := c.Encode(out)
		if string(again) != string(b) {
			t.Fatal("encoding is not deterministic")
		}
	}
}

func TestBinaryCodecRejects(t *testing.T) {
	c := httpsession.BinaryCodec{}
	tests := map[string][]byte{
		"empty":             {},
		"count past end":    {0x05},
		"key past end":      {0x01, 0x09, 'k'},
		"unknown tag":       {0x01, 0x01, 'k', '?'},
		"string past end":   {0x01, 0x01, 'k', 's', 0x09, 'a'},
		"float short":       {0x01, 0x01, 'k', 'f', 0, 0},
		"nanos too big":     {0x01, 0x01, 'k', 't', 0x00, 0x80, 0x94, 0xeb, 0xdc, 0x03},
		"keys out of order": {0x02, 0x01, 'b', 'T', 0x01, 'a', 'T'},
		"repeated key":      {0x02, 0x01, 'a', 'T', 0x01, 'a', 'F'},
		"trailing bytes":    {0x00, 0x00},
		"bad varint":        {0x01, 0x01, 'k', 'i', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if v, err := c.Decode(b); err == nil {
				t.Fatalf("Decode(%x) = %v; want an error", b, v)
			}
		})
	}
}

// FuzzBinaryCodec: Decode never panics, and what it accepts re-encodes
// to something that decodes to the same values.
func FuzzBinaryCodec(f *testing.F) {
	c := httpsession.BinaryCodec{}
	seed, _ := c.Encode(sample())
	f.Add(seed)
	f.Add([]byte{0x01, 0x01, 'k', 's', 0x01, 'v'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := c.Decode(b)
		if err != nil {
			return
		}
		again, err := c.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.Decode(again)
		if err != nil || !equalValues(v, w) {
			t.Fatalf("re-decoding: %v, %v != %v", err, w, v)
		}
	})
}

// TestTypedValuesAcrossRequests: what one request puts, the next reads
// back with the typed getters, exactly; a getter of the wrong type says
// not found.
func TestTypedValuesAcrossRequests(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	when := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("X", 3600))
	put := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("s", "str")
		s.PutInt("i", -7)
		s.PutInt64("i64", math.MaxInt64)
		s.PutFloat("f", 0.5)
		s.PutBool("b", true)
		s.PutTime("t", when)
		buf := []byte("bytes")
		s.PutBytes("y", buf)
		buf[0] = 'X' // PutBytes copied
		if err := s.Put("u8", uint8(200)); err != nil {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	put.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	tok := issued(t, rec)

	var got []any
	read := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		str, _ := s.GetString("s")
		i, _ := s.GetInt("i")
		i64, _ := s.GetInt64("i64")
		fl, _ := s.GetFloat("f")
		b, _ := s.GetBool("b")
		tm, _ := s.GetTime("t")
		y, _ := s.GetBytes("y")
		u8, _ := s.Get("u8")
		_, wrongType := s.GetInt("s")
		_, absent := s.GetString("nope")
		got = []any{str, i, i64, fl, b, tm.Equal(when) && tm.Location() == time.UTC, string(y), u8, wrongType, absent}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: tok})
	read.ServeHTTP(httptest.NewRecorder(), req)
	want := []any{"str", -7, int64(math.MaxInt64), 0.5, true, true, "bytes", int64(200), false, false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read back %v; want %v", got, want)
	}
}

// TestPutUnsupported: a value the codec cannot store fails at Put and
// changes nothing, so the request writes nothing.
func TestPutUnsupported(t *testing.T) {
	type user struct{ Name string }
	tests := map[string]any{
		"struct":          user{"a"},
		"pointer":         &user{"a"},
		"map":             map[string]string{},
		"slice of string": []string{"a"},
		"nil":             nil,
		"chan":            make(chan int),
		"func":            func() {},
		"uint64 overflow": uint64(math.MaxUint64),
		"error":           errors.New("x"),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, httpsession.Options{}, nil)
			var err error
			h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := httpsession.FromContext(r.Context())
				err = s.Put("k", v)
				if len(s.Keys()) != 0 {
					t.Error("the failed Put changed the session")
				}
			}))
			rec := httptest.NewRecorder()
			if n := f.requests(func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) }); n != 0 {
				t.Errorf("%d store requests", n)
			}
			if !errors.Is(err, httpsession.ErrUnsupportedValue) || issued(t, rec) != "" {
				t.Fatalf("Put(%T): %v, cookie %q; want ErrUnsupportedValue and nothing stored", v, err, issued(t, rec))
			}
		})
	}
}

// badCodec decodes to a type Put would never store.
type badCodec struct{ httpsession.BinaryCodec }

func (badCodec) Decode([]byte) (map[string]any, error) { return map[string]any{"k": 1}, nil }

// TestCodecContractChecked: a custom Codec that returns unsupported
// types makes the record count as corrupt, not a value that breaks
// typed getters later.
func TestCodecContractChecked(t *testing.T) {
	f := newFixture(t, httpsession.Options{Codec: badCodec{}}, nil)
	tok := f.login(t)
	if got := f.body(t, "/get?k=user", tok); got != "<none>" || f.mgr.Stats().Corrupt != 1 {
		t.Fatalf("got %q, Corrupt %d", got, f.mgr.Stats().Corrupt)
	}
}
