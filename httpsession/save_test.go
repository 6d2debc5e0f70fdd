package httpsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/tier"
)

// TestUnchangedRequestWritesNothing: reads, a Put of the value already
// held and a Remove of an absent key change nothing, so they write
// nothing — and, while the session is in the local tier, read nothing
// remote either; once the store's TouchInterval has passed, one read moves
// the idle deadline with one Touch and keeps the version.
func TestUnchangedRequestWritesNothing(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	tok := f.login(t)
	before := f.stored(t, tok)
	for _, target := range []string{"/get?k=user", "/set?k=user&v=alice", "/del?k=absent", "/keys", "/silent?k=user&v=alice"} {
		f.clock.Advance(500 * time.Millisecond) // within LocalTTL (5s) and TouchInterval (1 minute)
		var rec *httptest.ResponseRecorder
		if n := f.requests(func() { rec = f.do(t, target, tok) }); n != 0 {
			t.Errorf("%s made %d store requests; want 0", target, n)
		}
		if issued(t, rec) != "" {
			t.Errorf("%s set a cookie", target)
		}
	}
	f.clock.Advance(50 * time.Second) // past LocalTTL: reads go remote, still no write
	if n := f.writes(func() { f.body(t, "/get?k=user", tok) }); n != 0 {
		t.Fatalf("a read within TouchInterval made %d store writes; want 0", n)
	}
	f.clock.Advance(2 * time.Minute)
	if n := f.writes(func() { f.body(t, "/get?k=user", tok) }); n != 1 {
		t.Fatalf("a read past TouchInterval made %d store writes; want 1 (the Touch)", n)
	}
	after := f.stored(t, tok)
	if after.Version != before.Version || !after.ExpiresAt.After(before.ExpiresAt) || string(after.Data) != string(before.Data) {
		t.Fatalf("after the Touch: %+v; want version %d, same data, a later expiry than %v", after, before.Version, before.ExpiresAt)
	}
	if st := f.mgr.Stats(); st.Saved != 0 || st.Created != 1 {
		t.Fatalf("Stats: %+v; want 1 create and no save", st)
	}
}

// gatedApp serves requests that stop after loading their session until
// the test lets them go on, then apply the changes in their query:
// set=k:v,k:v and del=k,k.
type gatedApp struct {
	mu    sync.Mutex
	gates map[string]chan struct{} // by ?g=, closed to proceed
	ready chan string              // ?g= of each request that has loaded
}

func newGatedApp() *gatedApp {
	return &gatedApp{gates: map[string]chan struct{}{}, ready: make(chan string, 16)}
}

func (a *gatedApp) gate(name string) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gates[name] == nil {
		a.gates[name] = make(chan struct{})
	}
	return a.gates[name]
}

func (a *gatedApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, _ := httpsession.FromContext(r.Context())
	q := r.URL.Query()
	g := a.gate(q.Get("g"))
	a.ready <- q.Get("g")
	<-g
	for kv := range strings.SplitSeq(q.Get("set"), ",") {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			s.PutString(k, v)
		}
	}
	for k := range strings.SplitSeq(q.Get("del"), ",") {
		if k != "" {
			s.Remove(k)
		}
	}
	fmt.Fprint(w, "ok")
}

// serveAsync serves target in the background; the returned channel
// yields the response.
func serveAsync(h http.Handler, target, token string) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	req := httptest.NewRequest(http.MethodGet, "https://example.com"+target, nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: token})
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		done <- rec
	}()
	return done
}

// TestParallelRequestsMerge: requests A and B read the same version; A
// saves first, so B's save conflicts and is merged. Only the keys each
// request changed are written: different keys both land, the same key
// holds the value of the request that saved last, and a request that
// changed nothing writes nothing.
func TestParallelRequestsMerge(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string // queries
		want   map[string]string
		merges uint64
	}{
		{"different keys", "set=a:1", "set=b:2", map[string]string{"user": "alice", "a": "1", "b": "2"}, 1},
		{"same key: last saver wins", "set=k:A", "set=k:B", map[string]string{"user": "alice", "k": "B"}, 1},
		{"remove and set", "del=user", "set=b:2", map[string]string{"b": "2"}, 1},
		{"set, then remove", "set=user:bob", "del=user", map[string]string{}, 1},
		{"B changes nothing", "set=a:1", "", map[string]string{"user": "alice", "a": "1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpsession.Options{}, nil)
			tok := f.login(t)
			g := newGatedApp()
			h := f.mgr.Handle(g)
			a := serveAsync(h, "/?g=a&"+tt.a, tok)
			b := serveAsync(h, "/?g=b&"+tt.b, tok)
			<-g.ready
			<-g.ready // both have loaded version 1
			close(g.gate("a"))
			if rec := <-a; rec.Code != http.StatusOK {
				t.Fatalf("A: %d", rec.Code)
			}
			close(g.gate("b"))
			if rec := <-b; rec.Code != http.StatusOK {
				t.Fatalf("B: %d %s", rec.Code, rec.Body)
			}
			got := map[string]string{}
			for _, k := range strings.Split(f.body(t, "/keys", tok), ",") {
				if k != "" {
					got[k] = f.body(t, "/get?k="+url.QueryEscape(k), tok)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("session holds %v; want %v", got, tt.want)
			}
			if st := f.mgr.Stats(); st.Merged != tt.merges {
				t.Fatalf("Stats.Merged = %d; want %d", st.Merged, tt.merges)
			}
		})
	}
}

// TestFailedSaveBecomes500: when the save fails, the handler's response
// (status, headers, body) is replaced by the ErrorHandler's, its Write
// reports ErrSaveFailed, and no cookie is sent.
func TestFailedSaveBecomes500(t *testing.T) {
	tests := []struct {
		name   string
		fault  func(*faultyStore)
		cookie bool // request with an existing session
		write  func(w http.ResponseWriter) error
	}{
		{"save, WriteHeader", func(s *faultyStore) { s.saveErr = tier.ErrUnavailable }, true,
			func(w http.ResponseWriter) error {
				w.Header().Set("Location", "/next")
				w.WriteHeader(http.StatusSeeOther)
				_, err := w.Write([]byte("moved"))
				return err
			}},
		{"save, Write", func(s *faultyStore) { s.saveErr = tier.ErrUnknownOutcome }, true,
			func(w http.ResponseWriter) error { _, err := w.Write([]byte("page")); return err }},
		{"create, Write", func(s *faultyStore) { s.createErr = tier.ErrUnavailable }, false,
			func(w http.ResponseWriter) error { _, err := w.Write([]byte("page")); return err }},
		{"save, handler never writes", func(s *faultyStore) { s.saveErr = tier.ErrUnavailable }, true,
			func(http.ResponseWriter) error { return httpsession.ErrSaveFailed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fs *faultyStore
			f := newFixture(t, httpsession.Options{}, func(s httpsession.Store) httpsession.Store { fs = &faultyStore{Store: s}; return fs })
			tok := ""
			if tt.cookie {
				tok = f.login(t)
			}
			fs.set(tt.fault)
			var writeErr error
			h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := httpsession.FromContext(r.Context())
				s.PutString("cart", "3 items")
				w.Header().Set("X-Handler", "yes")
				writeErr = tt.write(w)
			}))
			rec := <-serveAsync(h, "/", tok)
			if rec.Code != http.StatusInternalServerError || rec.Body.String() != "Internal Server Error\n" {
				t.Fatalf("got %d %q; want the default 500", rec.Code, rec.Body)
			}
			if rec.Header().Get("X-Handler") != "" || rec.Header().Get("Location") != "" || issued(t, rec) != "" {
				t.Fatalf("headers %v leak from the dropped response", rec.Header())
			}
			if !errors.Is(writeErr, httpsession.ErrSaveFailed) {
				t.Fatalf("handler's write: %v; want ErrSaveFailed", writeErr)
			}
			if st := f.mgr.Stats(); st.Errors != 1 {
				t.Fatalf("Stats.Errors = %d; want 1", st.Errors)
			}
			f.noSecrets(t, tok, tiersession.StorageKey(tok))
		})
	}
}

// TestSessionEndedMidRequest: a session destroyed while a request that
// changes it is in flight is not brought back; that request's save fails
// with ErrSessionEnded.
func TestSessionEndedMidRequest(t *testing.T) {
	var gotErr error
	f := newFixture(t, httpsession.Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		http.Error(w, "session ended", http.StatusConflict)
	}}, nil)
	tok := f.login(t)
	g := newGatedApp()
	a := serveAsync(f.mgr.Handle(g), "/?g=a&set=cart:1", tok)
	<-g.ready
	f.body(t, "/destroy", tok)
	close(g.gate("a"))
	if rec := <-a; rec.Code != http.StatusConflict || !errors.Is(gotErr, httpsession.ErrSessionEnded) {
		t.Fatalf("got %d, error %v; want the error handler with ErrSessionEnded", rec.Code, gotErr)
	}
	if _, found, _ := f.remote.Get(context.Background(), tiersession.StorageKey(tok)); found {
		t.Fatal("the destroyed session came back")
	}
}

// TestChangesAfterTheResponseStarted: a change made after the body was
// written is saved when the handler returns, if the session is stored;
// for a session not stored yet no cookie can name it any more, so the
// change is reported (logged and counted), not silently dropped.
func TestChangesAfterTheResponseStarted(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		w.Write([]byte("streamed"))
		s.PutString("late", "yes")
	}))
	tok := f.login(t)
	<-serveAsync(h, "/", tok)
	if got := f.body(t, "/get?k=late", tok); got != "yes" {
		t.Fatalf("late change on a stored session: %q; want yes", got)
	}
	if rec := <-serveAsync(h, "/", ""); issued(t, rec) != "" {
		t.Fatal("a cookie appeared after the body")
	}
	if st := f.mgr.Stats(); st.LateSaveErrors != 1 {
		t.Fatalf("Stats.LateSaveErrors = %d; want 1", st.LateSaveErrors)
	}
	if !strings.Contains(f.logs.String(), "after the response started") {
		t.Fatalf("the lost late change was not logged:\n%s", f.logs)
	}
}

// TestClientGoneStillSaves: the save runs detached from the request's
// context, so a client that hung up does not lose what its request did.
func TestClientGoneStillSaves(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	tok := f.login(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://example.com/set?k=cart&v=1", nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: tok})
	f.h.ServeHTTP(httptest.NewRecorder(), req)
	if got := f.body(t, "/get?k=cart", tok); got != "1" {
		t.Fatalf("cart = %q; want the change saved", got)
	}
}
