package scsstore_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

// app is one node of a web application: scs's LoadAndSave middleware over
// a Store over its own tier.Store, served by httptest.
type app struct {
	sm     *scs.SessionManager
	tier   *tier.Store
	store  *scsstore.Store
	server *httptest.Server
}

func newApp(t *testing.T, r *spyRemote, bus invalidation.Bus, hashToken bool) *app {
	t.Helper()
	a := &app{sm: scs.New()}
	a.tier = tiertest.Open(t, r, tier.Options{Bus: bus})
	a.store = scsstore.New(a.tier)
	a.sm.Store = a.store
	a.sm.IdleTimeout = 30 * time.Minute // scs re-commits every request
	a.sm.HashTokenInStore = hashToken

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "user", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, a.sm.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := a.sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := a.sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	a.server = httptest.NewServer(a.sm.LoadAndSave(mux))
	t.Cleanup(a.server.Close)
	return a
}

// browser is a client with a cookie jar, as scs's own tests use.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// get requests path from a and returns the body and the session token the
// response set, if it set one.
func get(t *testing.T, c *http.Client, a *app, path string) (body, token string) {
	t.Helper()
	resp, err := c.Get(a.server.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			token = ck.Value
		}
	}
	return string(b), token
}

func TestLoadAndSave(t *testing.T) {
	for _, hashed := range []bool{false, true} {
		name := "token"
		if hashed {
			name = "HashTokenInStore"
		}
		t.Run(name, func(t *testing.T) { testLoadAndSave(t, hashed) })
	}
}

func testLoadAndSave(t *testing.T, hashed bool) {
	r := newSpyRemote(nil)
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	t.Cleanup(func() { bus.Close() })
	a := newApp(t, r, bus, hashed)
	c := browser(t)

	_, token := get(t, c, a, "/put?v=alice")
	if !tiersession.ValidToken(token) {
		t.Fatalf("scs set the token %q", token)
	}
	if n := r.count("create"); n != 1 {
		t.Fatalf("the first put made %d creates; want 1", n)
	}

	// Every request re-commits (IdleTimeout); unchanged, that is a
	// throttled Touch: no remote request at all.
	requests := r.Requests()
	for range 3 {
		if body, _ := get(t, c, a, "/get"); body != "alice" {
			t.Fatalf("GET /get = %q; want alice", body)
		}
	}
	if n := r.Requests() - requests; n != 0 {
		t.Fatalf("3 unchanged requests made %d remote requests; want 0", n)
	}
	if st := a.store.Stats(); st.Touches != 3 || st.Writes != 1 {
		t.Fatalf("Stats = %+v; want 3 touches, 1 write", st)
	}

	get(t, c, a, "/put?v=bob")
	if body, _ := get(t, c, a, "/get"); body != "bob" {
		t.Fatalf("GET /get = %q after the change; want bob", body)
	}
	if n := r.count("put"); n != 1 {
		t.Fatalf("a change made %d puts; want 1", n)
	}

	// A second node, another tier.Store on the same remote and bus, reads
	// the session from the same cookie.
	b := newApp(t, r, bus, hashed)
	req, _ := http.NewRequest(http.MethodGet, b.server.URL+"/get", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "bob" {
		t.Fatalf("node b reads %q; want bob", body)
	}

	// RenewToken deletes the old session and commits under a new token.
	_, renewed := get(t, c, a, "/renew")
	if renewed == "" || renewed == token {
		t.Fatalf("renew set token %q; want a new one", renewed)
	}
	if body, _ := get(t, c, a, "/get"); body != "bob" {
		t.Fatalf("GET /get = %q after renew; want bob", body)
	}
	if _, found, _ := a.store.Find(storeToken(token, hashed)); found {
		t.Fatal("the session is still found under the old token")
	}

	get(t, c, a, "/destroy")
	if body, _ := get(t, c, a, "/get"); body != "" {
		t.Fatalf("GET /get = %q after destroy; want empty", body)
	}

	// Only storage keys travelled: never a token.
	for _, k := range r.seen() {
		for _, tok := range []string{token, renewed} {
			if strings.Contains(k, tok) {
				t.Fatalf("the remote saw key %q, which holds a session token", k)
			}
		}
		if k != tiersession.StorageKey(storeToken(token, hashed)) && k != tiersession.StorageKey(storeToken(renewed, hashed)) {
			t.Fatalf("the remote saw key %q; want only storage keys", k)
		}
	}
}

// storeToken is the token scs hands its store for the cookie's token.
func storeToken(token string, hashed bool) string {
	if !hashed {
		return token
	}
	return tiersession.StorageKey(token) // scs's hashToken: the same derivation
}
