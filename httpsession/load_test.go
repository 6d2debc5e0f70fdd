package httpsession_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/tier"
)

// withCookieHeader serves target with a raw Cookie header.
func (f *fixture) withCookieHeader(t testing.TB, target, header string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://example.com"+target, nil)
	req.Header.Set("Cookie", header)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// TestHostileCookiesNoStoreRead: a cookie that is not exactly a token's
// form — short, long, oversized, another alphabet, padded, a
// non-canonical last character, garbage bytes — gets a fresh session
// without a single store request, and the fresh session gets a token the
// server issues.
func TestHostileCookiesNoStoreRead(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	real := f.login(t)
	// The same 32 bytes spelled with an unused low bit of the last
	// character set: lenient base64 decoders accept it.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	nonCanonical := real[:42] + string(alphabet[strings.IndexByte(alphabet, real[42])|1])
	if a, _ := base64.RawURLEncoding.DecodeString(nonCanonical); string(a) != string(must(base64.RawURLEncoding.DecodeString(real))) {
		t.Fatal("the non-canonical spelling decodes to other bytes")
	}
	tests := []struct{ name, value string }{
		{"empty", ""},
		{"short", real[:42]},
		{"long", real + "A"},
		{"oversized", strings.Repeat("A", 8<<10)},
		{"padded", real + "="},
		{"std alphabet +", "+" + real[1:]},
		{"std alphabet /", real[:10] + "/" + real[11:]},
		{"non-canonical last char", nonCanonical},
		{"dot", real[:20] + "." + real[21:]},
		{"percent-encoded", "%41" + real[3:]},
		{"NUL byte", real[:20] + "\x00" + real[21:]},
		{"space", real[:20] + " " + real[21:]},
		{"non-ASCII", strings.Repeat("é", 21) + "A"},
		{"quote inside", real[:20] + "\"" + real[21:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.mgr.Stats().Malformed
			var rec *httptest.ResponseRecorder
			if n := f.requests(func() {
				rec = f.withCookieHeader(t, "/get?k=user", httpsession.DefaultCookieName+"="+tt.value)
			}); n != 0 {
				t.Fatalf("%d store requests; want 0", n)
			}
			if rec.Code != http.StatusOK || rec.Body.String() != "<none>" || issued(t, rec) != "" {
				t.Fatalf("got %d %q, cookie %q; want a fresh empty session and no cookie", rec.Code, rec.Body, issued(t, rec))
			}
			if f.mgr.Stats().Malformed != before+1 {
				t.Fatalf("Stats.Malformed = %d; want %d", f.mgr.Stats().Malformed, before+1)
			}
			// Writing to that fresh session issues a new, valid token.
			rec = f.withCookieHeader(t, "/set?k=x&v=1", httpsession.DefaultCookieName+"="+tt.value)
			if tok := issued(t, rec); !tiersession.ValidToken(tok) || tok == tt.value || tok == real {
				t.Fatalf("the fresh session was issued %q; want a new token", tok)
			}
		})
	}
	if f.body(t, "/get?k=user", real) != "alice" {
		t.Fatal("the real session was disturbed")
	}
}

// TestCookieHeaderShapes: the session cookie is found among others, in
// any of several Cookie headers, with spaces or double quotes around it.
func TestCookieHeaderShapes(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	tok := f.login(t)
	name := httpsession.DefaultCookieName
	tests := map[string][]string{
		"alone":            {name + "=" + tok},
		"among others":     {"a=1; " + name + "=" + tok + "; b=2"},
		"spaces":           {"a=1 ;  " + name + "=" + tok + " "},
		"quoted":           {name + "=\"" + tok + "\""},
		"second header":    {"a=1", name + "=" + tok},
		"first of two":     {name + "=" + tok + "; " + name + "=" + tiersession.NewToken()},
		"prefix is not it": {"x" + name + "=junk; " + name + "=" + tok},
		"empty parts":      {";;" + name + "=" + tok + ";;"},
	}
	for label, lines := range tests {
		t.Run(label, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://example.com/get?k=user", nil)
			for _, l := range lines {
				req.Header.Add("Cookie", l)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Body.String() != "alice" {
				t.Fatalf("Cookie %q: read %q; want the session", lines, rec.Body)
			}
		})
	}
}

// TestForgedTokens: a token of the right form that the server did not
// issue (random, or a real one with a character changed) cannot be told
// from a real one without a store read. It costs one read; repeats are
// answered by the store's negative cache. The request gets a fresh
// session under a new token (strict mode).
func TestForgedTokens(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	real := f.login(t)
	c := byte('A')
	if real[10] == c {
		c = 'B'
	}
	tests := []struct{ name, token string }{
		{"random", tiersession.NewToken()},
		{"tampered", real[:10] + string(c) + real[11:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tiersession.ValidToken(tt.token) {
				t.Fatal("test token is not well-formed")
			}
			before := f.mgr.Stats().Unknown
			if n := f.requests(func() {
				for range 20 {
					if got := f.body(t, "/get?k=user", tt.token); got != "<none>" {
						t.Fatalf("forged token read %q", got)
					}
				}
			}); n != 1 {
				t.Fatalf("20 requests with a forged token made %d store requests; want 1", n)
			}
			if got := f.mgr.Stats().Unknown - before; got != 20 {
				t.Fatalf("Stats.Unknown grew by %d; want 20", got)
			}
			tok := issued(t, f.do(t, "/set?k=x&v=1", tt.token))
			if tok == tt.token || !tiersession.ValidToken(tok) {
				t.Fatalf("strict mode issued %q for a forged token", tok)
			}
			if _, found, _ := f.remote.Get(context.Background(), tiersession.StorageKey(tt.token)); found {
				t.Fatal("a session was stored under the forged token")
			}
		})
	}
}

// TestAdoptUnknownTokens: with strict mode off, a well-formed unknown
// token becomes the new session's token.
func TestAdoptUnknownTokens(t *testing.T) {
	f := newFixture(t, httpsession.Options{AdoptUnknownTokens: true}, nil)
	tok := tiersession.NewToken()
	if got := issued(t, f.do(t, "/set?k=user&v=bob", tok)); got != tok {
		t.Fatalf("issued %q; want the adopted token", got)
	}
	if f.body(t, "/get?k=user", tok) != "bob" || f.mgr.Stats().Adopted != 1 {
		t.Fatalf("adopted session: body %q, Adopted %d", f.body(t, "/get?k=user", tok), f.mgr.Stats().Adopted)
	}
	// Malformed tokens are never adopted.
	rec := f.do(t, "/set?k=user&v=eve", "short")
	if got := issued(t, rec); got == "short" || !tiersession.ValidToken(got) {
		t.Fatalf("issued %q for a malformed token", got)
	}
}

// TestCorruptRecords: a record that does not decode — garbage Data, an
// unknown kind, a codec payload cut short, an item the remote cannot read
// — gives a fresh session and is counted, not a 500 for that user until it
// expires.
func TestCorruptRecords(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, httpsession.Options{}, nil)
	// A session record's header: kind 1, created now (Unix seconds).
	header := func(payload ...byte) []byte {
		return append(binary.AppendUvarint([]byte{0x01}, uint64(f.clock.Now().Unix())), payload...)
	}
	tests := []struct {
		name string
		data []byte // nil: a remote item that does not decode
	}{
		{"empty", []byte{}},
		{"unknown kind", []byte{0x7f, 1, 2}},
		{"bad creation time", []byte{0x01, 0x80}},
		{"garbage payload", header(0xff, 0xff)},
		{"truncated payload", header(0x01, 0x01, 'k', 's', 0x05, 'a')},
		{"unknown tag", header(0x01, 0x01, 'k', 'Z')},
		{"trailing bytes", header(0x00, 0x00)},
		{"bad pointer", []byte{0x02, 'x'}},
		{"remote item", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tiersession.NewToken()
			key := tiersession.StorageKey(tok)
			if tt.data == nil {
				f.remote.Corrupt(key)
			} else if _, err := f.store.Create(ctx, tier.Record{Key: key, Data: tt.data, ExpiresAt: f.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			before := f.mgr.Stats().Corrupt
			rec := f.do(t, "/get?k=user", tok)
			if rec.Code != http.StatusOK || rec.Body.String() != "<none>" {
				t.Fatalf("got %d %q; want a fresh session", rec.Code, rec.Body)
			}
			if f.mgr.Stats().Corrupt != before+1 {
				t.Fatal("the corrupt record was not counted")
			}
		})
	}
}

// TestLoadFailure: when the store cannot answer, the ErrorHandler answers
// (500 by default), the handler does not run, and the user is not handed
// a fresh session that would log them out.
func TestLoadFailure(t *testing.T) {
	var fs *faultyStore
	var gotErr error
	ran := false
	f := newFixture(t, httpsession.Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}}, func(s httpsession.Store) httpsession.Store { fs = &faultyStore{Store: s}; return fs })
	tok := f.login(t)
	fs.set(func(s *faultyStore) { s.getErr = tier.ErrUnavailable })
	h := f.mgr.Handle(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: tok})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || ran || issued(t, rec) != "" {
		t.Fatalf("got %d, handler ran %v, cookie %q; want the error handler's 503 only", rec.Code, ran, issued(t, rec))
	}
	if !errors.Is(gotErr, tier.ErrUnavailable) || strings.Contains(gotErr.Error(), tok) {
		t.Fatalf("error handler got %v; want tier.ErrUnavailable, without the token", gotErr)
	}
	if f.mgr.Stats().Errors != 1 {
		t.Fatalf("Stats.Errors = %d; want 1", f.mgr.Stats().Errors)
	}
	f.noSecrets(t, tok, tiersession.StorageKey(tok))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
