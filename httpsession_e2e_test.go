// End-to-end tests of httpsession: three nodes, each a tier.Store on one
// dynalite table with its own Manager, invalidating each other over a real
// redis-server, behind a round-robin front on one TLS server, driven by a
// client with a cookie jar.
package tiersession_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/tier"
)

// The root package's Store is what httpsession runs on in production.
var _ httpsession.Store = (*tiersession.Store)(nil)

// hsFront is the cluster under test.
type hsFront struct {
	tb     *table
	nodes  []*tier.Store
	buses  []*observedBus
	mgrs   []*httpsession.Manager
	srv    *httptest.Server
	next   atomic.Uint64
	logs   *hsLog
	issued sync.Map // every token a Set-Cookie handed out, and the test's own
}

const hsGrace = 10 * time.Second

func newHSFront(t *testing.T, topts tier.Options) *hsFront {
	t.Helper()
	f := &hsFront{tb: newTable(t), logs: &hsLog{}}
	// LocalTTL of an hour: another node sees a change through the bus.
	topts.LocalTTL = time.Hour
	f.nodes, f.buses = cluster(t, f.tb, redistest.Start(t), 3, topts)
	handlers := make([]http.Handler, len(f.nodes))
	for i, n := range f.nodes {
		mgr, err := httpsession.New(n, httpsession.Options{
			RenewGrace:   hsGrace,
			WriteTimeout: time.Minute, // -race and 50 parallel merges on dynalite
			Now:          f.tb.clock.Now,
			Logger:       slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		f.mgrs = append(f.mgrs, mgr)
		handlers[i] = mgr.Handle(hsApp(mgr, i))
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[(f.next.Add(1)-1)%uint64(len(handlers))].ServeHTTP(w, r)
	}))
	f.srv.Config.ErrorLog = log.New(f.logs, "http: ", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close) // before the nodes close
	t.Cleanup(func() { f.checkLogs(t) })
	return f
}

// hsApp: /incr?k=, /get?k=, /set?k=&v=, /keys, /login (Renew, user=alice),
// /logout (Destroy). Every response names its node in X-Node.
func hsApp(mgr *httpsession.Manager, node int) http.Handler {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *httpsession.Session { s, _ := httpsession.FromContext(r.Context()); return s }
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sess(r).GetInt(r.FormValue("k"))
		sess(r).PutInt(r.FormValue("k"), n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := sess(r).GetString(r.FormValue("k"))
		if !ok {
			v = "<none>"
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		sess(r).PutString(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(sess(r).Keys(), ","))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Renew(r); err != nil {
			http.Error(w, "renew failed", http.StatusServiceUnavailable)
			return
		}
		sess(r).PutString("user", "alice")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Destroy(r); err != nil {
			http.Error(w, "destroy failed", http.StatusServiceUnavailable)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Node", fmt.Sprint(node))
		mux.ServeHTTP(w, r)
	})
}

// browser is a client with a cookie jar that records every token it is
// handed.
func (f *hsFront) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base := f.srv.Client().Transport
	return &http.Client{Jar: jar, Transport: hsRoundTrip(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err == nil {
			for _, c := range resp.Cookies() {
				f.issued.Store(c.Value, true)
			}
		}
		return resp, err
	})}
}

type hsRoundTrip func(*http.Request) (*http.Response, error)

func (rt hsRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return rt(r) }

// get serves path for c (with token as the cookie when not ""), and
// returns the body and the node that served it.
func (f *hsFront) get(t *testing.T, c *http.Client, path, token string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Cookie", httpsession.DefaultCookieName+"="+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	return string(body), resp.Header.Get("X-Node")
}

// token is the session token in c's jar ("" if none).
func (f *hsFront) token(t *testing.T, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(f.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == httpsession.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// settle waits until every node has handled the bus event for key at
// version, so the next request, whichever node serves it, reads that
// version: the guarantee is "stale for at most the bus delay", and the
// test waits for the bus instead of racing it.
func (f *hsFront) settle(t *testing.T, token string, version uint64) {
	t.Helper()
	for _, b := range f.buses {
		b.waitEvent(t, tiersession.StorageKey(token), version)
	}
}

// settleDeleted waits until every node has handled the deletion of key.
func (f *hsFront) settleDeleted(t *testing.T, token string) {
	t.Helper()
	key := tiersession.StorageKey(token)
	for _, b := range f.buses {
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case e := <-b.events:
				if e.Key == key && e.Kind == invalidation.Deleted {
					break wait
				}
			case <-deadline:
				t.Fatal("no deletion event within 10s")
			}
		}
	}
}

// checkLogs fails if a token handed out, or its storage key, is in the
// logs of the nodes or of the server.
func (f *hsFront) checkLogs(t *testing.T) {
	logs := f.logs.String()
	if !strings.Contains(logs, "session created") {
		t.Errorf("no debug lines were logged; the check below would be vacuous:\n%s", logs)
	}
	f.issued.Range(func(k, _ any) bool {
		tok := k.(string)
		if tok != "" && (strings.Contains(logs, tok) || strings.Contains(logs, tiersession.StorageKey(tok))) {
			t.Errorf("a token or its storage key appears in the logs:\n%s", logs)
			return false
		}
		return true
	})
}

// hsLog collects log output from every node and the server.
type hsLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *hsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *hsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHTTPSessionCounterOnEveryNode(t *testing.T) {
	f := newHSFront(t, tier.Options{})
	c := f.browser(t)
	served := map[string]int{}
	for want := 1; want <= 9; want++ {
		body, node := f.get(t, c, "/incr?k=n", "")
		if body != fmt.Sprint(want) {
			t.Fatalf("request %d on node %s: counter %s", want, node, body)
		}
		served[node]++
		f.settle(t, f.token(t, c), uint64(want))
	}
	if len(served) != 3 {
		t.Fatalf("nodes served %v; want all three", served)
	}
}

func TestHTTPSessionParallelWritesAllLand(t *testing.T) {
	const n = 50
	// Each conflicting save is merged inside store.Update; with 50 writers
	// on one session the last one may need ~50 attempts.
	f := newHSFront(t, tier.Options{MaxUpdateRetries: 2 * n})
	c := f.browser(t)
	f.get(t, c, "/set?k=user&v=alice", "")
	tok := f.token(t, c)
	f.settle(t, tok, 1)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.Get(fmt.Sprintf("%s/set?k=k%02d&v=%d", f.srv.URL, i, i))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: %s", i, resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.settle(t, tok, 1+n) // one version per request: none was lost or doubled
	var merged uint64
	for _, m := range f.mgrs {
		merged += m.Stats().Merged
	}
	t.Logf("%d of %d saves were merged after a conflict", merged, n)
	for range 3 { // one read on each node
		keys, node := f.get(t, c, "/keys", "")
		if got := len(strings.Split(keys, ",")); got != n+1 {
			t.Fatalf("node %s sees %d keys; want %d: %s", node, got, n+1, keys)
		}
	}
}

func TestHTTPSessionRenewGrace(t *testing.T) {
	f := newHSFront(t, tier.Options{})
	c := f.browser(t)
	f.get(t, c, "/set?k=cart&v=1", "") // anonymous session...
	old := f.token(t, c)
	f.settle(t, old, 1)
	f.get(t, c, "/login", "") // ...renewed at login
	tok := f.token(t, c)
	if tok == old || tok == "" {
		t.Fatalf("login kept the token")
	}
	f.settle(t, old, 2) // the old record became a pointer on every node's view
	f.settle(t, tok, 2) // and the new session holds user=alice

	anon := &http.Client{Transport: f.srv.Client().Transport}
	f.tb.clock.Advance(hsGrace - time.Second)
	for range 3 {
		if user, node := f.get(t, anon, "/get?k=user", old); user != "alice" {
			t.Fatalf("old token within the grace on node %s: %q", node, user)
		}
	}
	f.tb.clock.Advance(time.Second)
	for range 3 {
		if user, node := f.get(t, anon, "/get?k=user", old); user != "<none>" {
			t.Fatalf("old token after the grace on node %s: %q", node, user)
		}
		if user, node := f.get(t, c, "/get?k=cart", ""); user != "1" {
			t.Fatalf("new token on node %s: cart %q", node, user)
		}
	}
}

func TestHTTPSessionDestroyOnEveryNode(t *testing.T) {
	f := newHSFront(t, tier.Options{})
	c := f.browser(t)
	f.get(t, c, "/set?k=user&v=alice", "")
	tok := f.token(t, c)
	f.settle(t, tok, 1)
	for range 3 { // every node caches the session
		if user, node := f.get(t, c, "/get?k=user", ""); user != "alice" {
			t.Fatalf("node %s: %q", node, user)
		}
	}
	f.get(t, c, "/logout", "")
	if f.token(t, c) != "" {
		t.Fatal("the jar still holds the cookie after logout")
	}
	f.settleDeleted(t, tok)
	anon := &http.Client{Transport: f.srv.Client().Transport}
	for range 3 {
		if user, node := f.get(t, anon, "/get?k=user", tok); user != "<none>" {
			t.Fatalf("destroyed token on node %s: %q", node, user)
		}
	}
}

func TestHTTPSessionHostileCookies(t *testing.T) {
	f := newHSFront(t, tier.Options{})
	c := f.browser(t)
	f.get(t, c, "/set?k=user&v=alice", "")
	real := f.token(t, c)
	anon := &http.Client{Transport: f.srv.Client().Transport}
	malformed := map[string]string{
		"short":     real[:42],
		"oversized": strings.Repeat(real, 100),
		"alphabet":  "+" + real[1:],
		"garbage":   "not-a-token",
	}
	for name, v := range malformed {
		before := f.tb.faults.Requests()
		for range 3 { // once on each node
			if user, node := f.get(t, anon, "/get?k=user", v); user != "<none>" {
				t.Fatalf("%s cookie on node %s read %q", name, node, user)
			}
		}
		if n := f.tb.faults.Requests() - before; n != 0 {
			t.Fatalf("%s cookie: %d DynamoDB requests; want 0", name, n)
		}
	}
	// A well-formed token the server did not issue cannot be refused
	// without asking DynamoDB: one read per node, then each node's
	// negative cache answers.
	forged := tiersession.NewToken()
	f.issued.Store(forged, true)
	before := f.tb.faults.Requests()
	for range 30 {
		if user, _ := f.get(t, anon, "/get?k=user", forged); user != "<none>" {
			t.Fatalf("forged token read %q", user)
		}
	}
	if n := f.tb.faults.Requests() - before; n != 3 {
		t.Fatalf("30 requests with a forged token: %d DynamoDB requests; want 3 (one per node)", n)
	}
	var malformedCount, unknown uint64
	for _, m := range f.mgrs {
		malformedCount += m.Stats().Malformed
		unknown += m.Stats().Unknown
	}
	if malformedCount != 3*uint64(len(malformed)) || unknown != 30 {
		t.Fatalf("Stats: %d malformed, %d unknown; want %d and 30", malformedCount, unknown, 3*len(malformed))
	}
}
