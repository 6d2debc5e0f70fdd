package httpsession_test

import (
	"context"
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

// TestRenewGrace: Renew issues a new token holding the data; the old one
// works — reads and writes, which land in the new session — within
// RenewGrace, without being sent a cookie, and names nothing after it.
func TestRenewGrace(t *testing.T) {
	f := newFixture(t, httpsession.Options{RenewGrace: 10 * time.Second}, nil)
	old := f.login(t)
	created := f.stored(t, old)
	f.clock.Advance(time.Minute)

	rec := f.do(t, "/renew?k=role&v=admin", old)
	tok := issued(t, rec)
	if tok == "" || tok == old || !tiersession.ValidToken(tok) {
		t.Fatalf("Renew issued %q", tok)
	}
	// Same attributes; Max-Age counts from the original creation.
	want := "__Host-session=" + tok + "; Path=/; Max-Age=86340; HttpOnly; Secure; SameSite=Lax"
	if got := rec.Header().Get("Set-Cookie"); got != want {
		t.Fatalf("Set-Cookie:\n got %s\nwant %s", got, want)
	}
	ptr := f.stored(t, old)
	if ptr.Data[0] != 0x02 || len(ptr.Data) != 1+43 || strings.Contains(string(ptr.Data), tok) {
		t.Fatalf("old record %q; want a pointer holding the new storage key only", ptr.Data)
	}
	if !ptr.ExpiresAt.Equal(f.clock.Now().Add(10 * time.Second)) {
		t.Fatalf("pointer expires at %v; want now+grace", ptr.ExpiresAt)
	}

	f.clock.Advance(9 * time.Second)
	for _, target := range []string{"/get?k=user", "/get?k=role", "/set?k=cart&v=1"} {
		rec := f.do(t, target, old)
		if rec.Code != http.StatusOK || issued(t, rec) != "" {
			t.Fatalf("old token within grace, %s: %d, cookie %q", target, rec.Code, issued(t, rec))
		}
		if rec.Body.String() == "<none>" {
			t.Fatalf("old token within grace, %s: session not found", target)
		}
	}
	if got := f.body(t, "/keys", tok); got != "cart,role,user" {
		t.Fatalf("new session holds %q; want the old data, the renewing request's and the in-grace write", got)
	}
	if st := f.mgr.Stats(); st.Redirected != 3 || st.Renewed != 1 {
		t.Fatalf("Stats: %+v", st)
	}

	f.clock.Advance(time.Second) // the grace is over
	if got := f.body(t, "/get?k=user", old); got != "<none>" {
		t.Fatalf("old token after the grace: %q; want a fresh session", got)
	}
	if got := f.body(t, "/get?k=user", tok); got != "alice" {
		t.Fatalf("new token: %q", got)
	}
	// The creation time (after the kind byte) moved with the data: Renew
	// does not extend the Lifetime.
	was, _ := binary.Uvarint(created.Data[1:])
	now, _ := binary.Uvarint(f.stored(t, tok).Data[1:])
	if was != now {
		t.Fatalf("created %d became %d", was, now)
	}
	f.noSecrets(t, old, tok, tiersession.StorageKey(old), tiersession.StorageKey(tok))
}

// TestRenewWithoutGrace: a negative RenewGrace ends the old token at
// once.
func TestRenewWithoutGrace(t *testing.T) {
	f := newFixture(t, httpsession.Options{RenewGrace: -1}, nil)
	old := f.login(t)
	tok := issued(t, f.do(t, "/renew", old))
	if _, found, _ := f.remote.Get(context.Background(), tiersession.StorageKey(old)); found {
		t.Fatal("the old record survived a Renew without grace")
	}
	if got := f.body(t, "/get?k=user", old); got != "<none>" {
		t.Fatalf("old token: %q", got)
	}
	if got := f.body(t, "/get?k=user", tok); got != "alice" {
		t.Fatalf("new token: %q", got)
	}
}

// TestRenewWhileRequestInFlight: a request that read the session under the
// old token before Renew and saves after it has its change merged into the
// renewed session (following the pointer), not lost and not resurrecting
// the old record.
func TestRenewWhileRequestInFlight(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	old := f.login(t)
	g := newGatedApp()
	a := serveAsync(f.mgr.Handle(g), "/?g=a&set=cart:2", old)
	<-g.ready
	tok := issued(t, f.do(t, "/renew", old))
	close(g.gate("a"))
	rec := <-a
	if rec.Code != http.StatusOK || issued(t, rec) != "" {
		t.Fatalf("in-flight request: %d, cookie %q", rec.Code, issued(t, rec))
	}
	if got := f.body(t, "/get?k=cart", tok); got != "2" {
		t.Fatalf("cart in the renewed session = %q; want 2", got)
	}
	if p := f.stored(t, old); p.Data[0] != 0x02 {
		t.Fatal("the old record is a session again")
	}
}

// TestConcurrentRenew: of two requests renewing one session, one wins;
// the other's Renew fails with an error matching tier.ErrConflict and
// leaves nothing behind.
func TestConcurrentRenew(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	old := f.login(t)
	ready, proceed := make(chan struct{}, 2), make(chan struct{})
	errs := make(chan error, 2)
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready <- struct{}{}
		<-proceed
		errs <- f.mgr.Renew(r)
	}))
	a, b := serveAsync(h, "/", old), serveAsync(h, "/", old)
	<-ready
	<-ready
	proceed <- struct{}{}
	first := <-errs
	proceed <- struct{}{}
	second := <-errs
	<-a
	<-b
	if first != nil || !errors.Is(second, tier.ErrConflict) {
		t.Fatalf("renews: %v, %v; want nil, then ErrConflict", first, second)
	}
	if st := f.mgr.Stats(); st.Renewed != 1 {
		t.Fatalf("Stats.Renewed = %d", st.Renewed)
	}
}

// TestRenewEdgeCases: Renew on a session not stored yet only picks the
// token; after the response started it refuses; outside Handle there is
// no session.
func TestRenewEdgeCases(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	if tok := issued(t, f.do(t, "/renew?k=user&v=new", "")); f.body(t, "/get?k=user", tok) != "new" {
		t.Fatal("Renew on a new session")
	}
	if tok := issued(t, f.do(t, "/renew", "")); tok != "" {
		t.Fatalf("Renew on an empty new session set cookie %q; want none", tok)
	}
	var err error
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("started"))
		err = f.mgr.Renew(r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(err, httpsession.ErrResponseStarted) {
		t.Fatalf("Renew after the response started: %v", err)
	}
	bare := httptest.NewRequest(http.MethodGet, "/", nil)
	if err := f.mgr.Renew(bare); !errors.Is(err, httpsession.ErrNoSession) {
		t.Fatalf("Renew outside Handle: %v", err)
	}
	if err := f.mgr.Destroy(bare); !errors.Is(err, httpsession.ErrNoSession) {
		t.Fatalf("Destroy outside Handle: %v", err)
	}
}

// TestDestroy: the record is deleted, the cookie cleared with the same
// attributes, the token names nothing any more; values put after Destroy
// start a new session under a new token.
func TestDestroy(t *testing.T) {
	tests := []struct {
		name       string
		then       string // query after /destroy
		wantCookie string // Set-Cookie, TOKEN for a new token
	}{
		{"logout", "", "__Host-session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
		{"logout with a flash", "?k=flash&v=bye", "__Host-session=TOKEN; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpsession.Options{}, nil)
			tok := f.login(t)
			rec := f.do(t, "/destroy"+tt.then, tok)
			got := rec.Header().Get("Set-Cookie")
			if fresh := issued(t, rec); fresh != "" {
				got = strings.Replace(got, fresh, "TOKEN", 1)
				if fresh == tok || f.body(t, "/keys", fresh) != "flash" {
					t.Fatalf("the session after Destroy holds %q", f.body(t, "/keys", fresh))
				}
			}
			if got != tt.wantCookie || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Set-Cookie:\n got %s\nwant %s\n(Cache-Control %q)", got, tt.wantCookie, rec.Header().Get("Cache-Control"))
			}
			if _, found, _ := f.remote.Get(context.Background(), tiersession.StorageKey(tok)); found {
				t.Fatal("the record is still in the store")
			}
			if got := f.body(t, "/get?k=user", tok); got != "<none>" {
				t.Fatalf("destroyed token reads %q", got)
			}
		})
	}
}

// TestDestroyThroughOldToken: Destroy by a request that came with a token
// Renew replaced ends the session and the pointer both.
func TestDestroyThroughOldToken(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	old := f.login(t)
	tok := issued(t, f.do(t, "/renew", old))
	f.body(t, "/destroy", old)
	for _, k := range []string{old, tok} {
		if _, found, _ := f.remote.Get(context.Background(), tiersession.StorageKey(k)); found {
			t.Fatal("a record survived")
		}
	}
	if got := f.body(t, "/get?k=user", tok); got != "<none>" {
		t.Fatalf("renewed token after Destroy: %q", got)
	}
}
