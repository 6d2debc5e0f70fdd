package httpsession_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
)

// TestCookieAttributes asserts the Set-Cookie header of a new session
// byte for byte, and the caching headers that go with it.
func TestCookieAttributes(t *testing.T) {
	const day = "Max-Age=86400"
	tests := []struct {
		name string
		opts httpsession.Options
		want string // with TOKEN for the token
	}{
		{"defaults", httpsession.Options{},
			"__Host-session=TOKEN; Path=/; " + day + "; HttpOnly; Secure; SameSite=Lax"},
		{"dev mode", httpsession.Options{Dev: true},
			"session=TOKEN; Path=/; " + day + "; HttpOnly; SameSite=Lax"},
		{"lifetime sets Max-Age", httpsession.Options{Lifetime: 2 * time.Hour},
			"__Host-session=TOKEN; Path=/; Max-Age=7200; HttpOnly; Secure; SameSite=Lax"},
		{"browser session", httpsession.Options{Cookie: httpsession.CookieOptions{BrowserSession: true}},
			"__Host-session=TOKEN; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"strict, script readable", httpsession.Options{Cookie: httpsession.CookieOptions{SameSite: http.SameSiteStrictMode, ScriptReadable: true}},
			"__Host-session=TOKEN; Path=/; " + day + "; Secure; SameSite=Strict"},
		{"custom name, path, domain", httpsession.Options{Cookie: httpsession.CookieOptions{Name: "__Secure-sid", Path: "/app", Domain: "example.com"}},
			"__Secure-sid=TOKEN; Path=/app; Domain=example.com; " + day + "; HttpOnly; Secure; SameSite=Lax"},
		{"partitioned, SameSite=None", httpsession.Options{Cookie: httpsession.CookieOptions{SameSite: http.SameSiteNoneMode, Partitioned: true}},
			"__Host-session=TOKEN; Path=/; " + day + "; HttpOnly; Secure; SameSite=None; Partitioned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts, nil)
			rec := f.do(t, "/set?k=a&v=b", "")
			h := rec.Header()
			sc := h.Values("Set-Cookie")
			if len(sc) != 1 {
				t.Fatalf("Set-Cookie = %q; want one", sc)
			}
			_, rest, _ := strings.Cut(sc[0], "=")
			tok, _, _ := strings.Cut(rest, ";")
			if !tiersession.ValidToken(tok) {
				t.Fatalf("cookie value %q is not a token", tok)
			}
			if got := strings.Replace(sc[0], tok, "TOKEN", 1); got != tt.want {
				t.Errorf("Set-Cookie:\n got %s\nwant %s", got, tt.want)
			}
			f.stored(t, tok) // the token's record is stored under StorageKey(token)
			if got := h.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
				t.Errorf("Vary = %q; want [Cookie]", got)
			}
			if got := h.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
				t.Errorf("Cache-Control = %q; want [no-store]", got)
			}
		})
	}
}

// TestHeadersWithoutCookie: a response that sets no cookie carries Vary:
// Cookie but keeps the handler's caching policy, and Vary is not
// repeated when the handler already names Cookie.
func TestHeadersWithoutCookie(t *testing.T) {
	tests := []struct {
		name     string
		vary     []string // set by the handler
		wantVary []string
	}{
		{"no Vary", nil, []string{"Cookie"}},
		{"other Vary", []string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{"Cookie in a list", []string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{"star", []string{"*"}, []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpsession.Options{}, nil)
			h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, v := range tt.vary {
					w.Header().Add("Vary", v)
				}
				w.Header().Set("Cache-Control", "public, max-age=60")
				w.Write([]byte("page"))
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if got := rec.Header().Values("Vary"); strings.Join(got, "|") != strings.Join(tt.wantVary, "|") {
				t.Errorf("Vary = %q; want %q", got, tt.wantVary)
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=60" {
				t.Errorf("Cache-Control = %q; the handler's policy must stand when no cookie is set", got)
			}
			if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("Set-Cookie = %q on a request that stored nothing", got)
			}
		})
	}
}

// TestSetCookieOverridesCaching: a response that hands out a token must
// not be stored by a shared cache, whatever the handler said.
func TestSetCookieOverridesCaching(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutBool("seen", true)
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Write([]byte("page"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Fatalf("Cache-Control = %q; want [no-store]", got)
	}
}

// TestAnonymousRequestsCostNothing: requests without a cookie that put
// nothing get no cookie and make no store request.
func TestAnonymousRequestsCostNothing(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	n := f.requests(func() {
		for range 10 {
			if rec := f.do(t, "/get?k=user", ""); issued(t, rec) != "" || rec.Body.String() != "<none>" {
				t.Fatalf("anonymous read: cookie %q, body %q", issued(t, rec), rec.Body)
			}
		}
	})
	if n != 0 {
		t.Fatalf("10 anonymous reads made %d store requests; want 0", n)
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts httpsession.Options
	}{
		{"negative idle", httpsession.Options{IdleTimeout: -time.Second}},
		{"sub-second lifetime", httpsession.Options{Lifetime: time.Millisecond}},
		{"__Host- in dev mode", httpsession.Options{Dev: true, Cookie: httpsession.CookieOptions{Name: "__Host-x"}}},
		{"__Host- with a path", httpsession.Options{Cookie: httpsession.CookieOptions{Path: "/app"}}},
		{"__Host- with a domain", httpsession.Options{Cookie: httpsession.CookieOptions{Domain: "example.com"}}},
		{"__Secure- insecure", httpsession.Options{Cookie: httpsession.CookieOptions{Name: "__Secure-x", Insecure: true}}},
		{"SameSite=None insecure", httpsession.Options{Dev: true, Cookie: httpsession.CookieOptions{SameSite: http.SameSiteNoneMode}}},
		{"bad name", httpsession.Options{Cookie: httpsession.CookieOptions{Name: "a b"}}},
	}
	f := newFixture(t, httpsession.Options{}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpsession.New(f.store, tt.opts); !errors.Is(err, httpsession.ErrBadOptions) {
				t.Fatalf("New: err = %v; want ErrBadOptions", err)
			}
		})
	}
	if _, err := httpsession.New(nil, httpsession.Options{}); !errors.Is(err, httpsession.ErrBadOptions) {
		t.Fatalf("New(nil store): err = %v; want ErrBadOptions", err)
	}
}

// TestDevModeCookieName: the dev-mode cookie is read back under its own
// name.
func TestDevModeCookieName(t *testing.T) {
	f := newFixture(t, httpsession.Options{Dev: true}, nil)
	tok := issued(t, f.do(t, "/set?k=user&v=dev", ""))
	req := httptest.NewRequest(http.MethodGet, "http://localhost/get?k=user", nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DevCookieName, Value: tok})
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Body.String() != "dev" {
		t.Fatalf("dev-mode session read back %q; want dev", rec.Body)
	}
}
