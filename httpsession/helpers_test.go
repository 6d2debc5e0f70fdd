package httpsession_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
	"github.com/tiersession/tiersession/tier"
	"github.com/tiersession/tiersession/tier/tiertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a Manager over a tier.Store over an in-memory remote, all on
// one manual clock, serving the test app (see app).
type fixture struct {
	clock   *remotetest.Clock
	remote  *remote.Memory
	counted *countingRemote // f.remote as the tier.Store sees it
	store   *tier.Store
	mgr     *httpsession.Manager
	h       http.Handler
	logs    *syncBuffer
}

// newFixture builds a fixture; store, when not nil, wraps the tier.Store
// (fault injection) before the Manager sees it.
func newFixture(t testing.TB, opts httpsession.Options, wrap func(httpsession.Store) httpsession.Store) *fixture {
	t.Helper()
	f := &fixture{clock: remotetest.NewClock(time.Now().Truncate(time.Second)), logs: &syncBuffer{}}
	f.remote = remote.NewMemory(remote.MemoryOptions{Now: f.clock.Now})
	f.counted = &countingRemote{Memory: f.remote}
	f.store = tiertest.Open(t, f.counted, tier.Options{Now: f.clock.Now})
	var s httpsession.Store = f.store
	if wrap != nil {
		s = wrap(s)
	}
	opts.Now = f.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	mgr, err := httpsession.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.mgr = mgr
	f.h = mgr.Handle(app(mgr))
	return f
}

// app is the test application:
//
//	/get?k=K         writes the string under K, or "<none>"
//	/set?k=K&v=V     puts the string V under K
//	/incr?k=K        adds 1 to the integer under K and writes it
//	/del?k=K         removes K
//	/keys            writes the keys, comma-separated
//	/renew[?k=&v=]   renews, then (optionally) puts V under K
//	/destroy[?k=&v=] destroys, then (optionally) puts V under K
//	/silent?k=K&v=V  puts V under K and writes nothing at all
func app(mgr *httpsession.Manager) http.Handler {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *httpsession.Session {
		s, ok := httpsession.FromContext(r.Context())
		if !ok {
			panic("no session")
		}
		return s
	}
	putIf := func(r *http.Request) {
		if k := r.FormValue("k"); k != "" {
			sess(r).PutString(k, r.FormValue("v"))
		}
	}
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := sess(r).GetString(r.FormValue("k"))
		if !ok {
			v = "<none>"
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		putIf(r)
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		n, _ := s.GetInt(r.FormValue("k"))
		s.PutInt(r.FormValue("k"), n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/del", func(w http.ResponseWriter, r *http.Request) {
		sess(r).Remove(r.FormValue("k"))
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(sess(r).Keys(), ","))
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Renew(r); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		putIf(r)
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Destroy(r); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		putIf(r)
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/silent", func(_ http.ResponseWriter, r *http.Request) { putIf(r) })
	ownerRoutes(mux, mgr, sess)
	return mux
}

// ownerRoutes adds the owner endpoints to the test application:
//
//	/login?user=U&device=D  ties the session to U (SetOwner), writes its ID
//	/whoami                 writes the session's owner
//	/devices?user=U         writes U's sessions, one "ID device" per line,
//	                        "*" after the request's own
//	/end?user=U&id=I        ends U's session I
//	/logoutall?user=U       ends all of U's sessions, then this one
func ownerRoutes(mux *http.ServeMux, mgr *httpsession.Manager, sess func(*http.Request) *httpsession.Session) {
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusConflict) }
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.SetOwner(r, r.FormValue("user"), map[string]string{"device": r.FormValue("device")}); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, sess(r).ID())
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, sess(r).Owner()) })
	mux.HandleFunc("/devices", func(w http.ResponseWriter, r *http.Request) {
		list, err := mgr.List(r.Context(), r.FormValue("user"))
		if err != nil {
			fail(w, err)
			return
		}
		for _, d := range list {
			mark := ""
			if d.ID == sess(r).ID() {
				mark = " *"
			}
			fmt.Fprintf(w, "%s %s%s\n", d.ID, d.Meta["device"], mark)
		}
	})
	mux.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.End(r.Context(), r.FormValue("user"), r.FormValue("id")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/logoutall", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.DestroyAll(r.Context(), r.FormValue("user")); err != nil {
			fail(w, err)
			return
		}
		if err := mgr.Destroy(r); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
}

// do serves one request with the token (if not "") in the session cookie.
func (f *fixture) do(t testing.TB, target, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://example.com"+target, nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: token})
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// body serves a request and returns its body, failing on a status other
// than 200.
func (f *fixture) body(t testing.TB, target, token string) string {
	t.Helper()
	rec := f.do(t, target, token)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// login creates a session holding user=alice and returns its token.
func (f *fixture) login(t testing.TB) string {
	t.Helper()
	tok := issued(t, f.do(t, "/set?k=user&v=alice", ""))
	if tok == "" {
		t.Fatal("login set no cookie")
	}
	return tok
}

// issued returns the token the response's Set-Cookie hands out ("" if it
// sets none), checking that there is at most one session cookie.
func issued(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	cs := rec.Result().Cookies()
	if len(cs) > 1 {
		t.Fatalf("%d Set-Cookie headers; want at most 1", len(cs))
	}
	if len(cs) == 0 {
		return ""
	}
	return cs[0].Value
}

// stored reads the record of token straight from the remote (bypassing
// every cache), failing unless it is there.
func (f *fixture) stored(t testing.TB, token string) remote.Record {
	t.Helper()
	rec, found, err := f.remote.Get(context.Background(), tiersession.StorageKey(token))
	if err != nil || !found {
		t.Fatalf("remote Get: found %v, err %v; want the record", found, err)
	}
	return rec
}

// requests counts the remote's requests while fn runs.
func (f *fixture) requests(fn func()) int64 {
	before := f.remote.Requests()
	fn()
	return f.remote.Requests() - before
}

// writes counts the remote writes (Create, Put, Touch, Delete) the
// tier.Store makes while fn runs.
func (f *fixture) writes(fn func()) int64 {
	before := f.counted.writes.Load()
	fn()
	return f.counted.writes.Load() - before
}

// countingRemote counts the writes a tier.Store sends to a Memory. Its
// owner index, List, leaves out the keys hidden with hide, as DynamoDB's
// eventually consistent index would leave out the newest sessions.
type countingRemote struct {
	*remote.Memory
	writes atomic.Int64
	mu     sync.Mutex
	hidden map[string]bool
}

func (c *countingRemote) hide(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hidden == nil {
		c.hidden = make(map[string]bool)
	}
	c.hidden[key] = true
}

func (c *countingRemote) List(ctx context.Context, owner string) ([]remote.Record, error) {
	recs, err := c.Memory.List(ctx, owner)
	c.mu.Lock()
	defer c.mu.Unlock()
	var shown []remote.Record
	for _, r := range recs {
		if !c.hidden[r.Key] {
			shown = append(shown, r)
		}
	}
	return shown, err
}

func (c *countingRemote) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	c.writes.Add(1)
	return c.Memory.Create(ctx, rec)
}

func (c *countingRemote) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	c.writes.Add(1)
	return c.Memory.Put(ctx, rec, expected)
}

func (c *countingRemote) Touch(ctx context.Context, key string, exp time.Time) (remote.Record, error) {
	c.writes.Add(1)
	return c.Memory.Touch(ctx, key, exp)
}

func (c *countingRemote) Delete(ctx context.Context, key string, expected uint64) error {
	c.writes.Add(1)
	return c.Memory.Delete(ctx, key, expected)
}

// noSecrets fails if any log line holds one of the secrets.
func (f *fixture) noSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	logs := f.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Fatalf("the logs hold a token or storage key:\n%s", logs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faultyStore fails the operations it is told to, and runs hooks before
// Save, so tests can force interleavings.
type faultyStore struct {
	httpsession.Store
	mu                  sync.Mutex
	getErr, saveErr     error
	touchErr, createErr error
	beforeSave          func()
}

func (s *faultyStore) set(fn func(*faultyStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *faultyStore) Get(ctx context.Context, key string) (tier.Record, bool, error) {
	s.mu.Lock()
	err := s.getErr
	s.mu.Unlock()
	if err != nil {
		return tier.Record{}, false, err
	}
	return s.Store.Get(ctx, key)
}

func (s *faultyStore) Save(ctx context.Context, rec tier.Record) (tier.Record, error) {
	s.mu.Lock()
	err, hook := s.saveErr, s.beforeSave
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if err != nil {
		return tier.Record{}, err
	}
	return s.Store.Save(ctx, rec)
}

func (s *faultyStore) Create(ctx context.Context, rec tier.Record) (tier.Record, error) {
	s.mu.Lock()
	err := s.createErr
	s.mu.Unlock()
	if err != nil {
		return tier.Record{}, err
	}
	return s.Store.Create(ctx, rec)
}

func (s *faultyStore) Touch(ctx context.Context, key string, exp time.Time) (tier.Record, error) {
	s.mu.Lock()
	err := s.touchErr
	s.mu.Unlock()
	if err != nil {
		return tier.Record{}, err
	}
	return s.Store.Touch(ctx, key, exp)
}
