package webbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/scsstore"
)

// value is what every session holds under "user", and what GET /get
// answers.
const value = "alice"

// system is one way of serving GET /get: the plain handler, or a session
// middleware whose session holds user=alice, read on every request.
type system struct {
	name string
	// start builds the system for clients that keep up to conns
	// connections open; what it starts stops when tb ends.
	start func(tb testing.TB, conns int) *target
}

// target is a started system.
type target struct {
	// handler serves GET /put (a new session that holds user=alice; its
	// response sets the cookie) and GET /get (answers the value).
	handler http.Handler
	// remoteRequests, when not nil, counts the requests the session store
	// made to its remote (DynamoDB's stand-in) so far.
	remoteRequests func() int64
}

// systems are the systems the benchmark compares, plain first (the others
// report their ratio to it).
var systems = []system{
	{"plain", startPlain},
	{"httpsession", startHTTPSession},
	{"scs-memstore", func(tb testing.TB, conns int) *target {
		return startSCS(memstore.NewWithCleanupInterval(0), nil)
	}},
	{"scs-redisstore", startSCSRedis},
	{"scs-tier", func(tb testing.TB, conns int) *target {
		store := openTier(tb)
		return startSCS(scsstore.New(store), store.Remote().(*remote.Memory).Requests)
	}},
}

func startPlain(tb testing.TB, conns int) *target {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, value) })
	return &target{handler: mux}
}

// openTier opens a tiersession store on the in-memory remote, as a
// development server would (tiersession.Open with a zero Config).
func openTier(tb testing.TB) *tiersession.Store {
	tb.Helper()
	store, err := tiersession.Open(context.Background(), tiersession.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}

func startHTTPSession(tb testing.TB, conns int) *target {
	store := openTier(tb)
	// Dev: the benchmark speaks plain http, where a Secure cookie would
	// not be sent back by a browser (the client here sends it anyway).
	mgr, err := httpsession.New(store, httpsession.Options{Dev: true})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("user", value)
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		v, _ := s.GetString("user")
		io.WriteString(w, v)
	})
	return &target{handler: mgr.Handle(mux), remoteRequests: store.Remote().(*remote.Memory).Requests}
}

// startSCS serves the routes through scs's LoadAndSave on store, with
// scs's defaults (no IdleTimeout: a hit that changes nothing commits
// nothing).
func startSCS(store scs.Store, remoteRequests func() int64) *target {
	sm := scs.New()
	sm.Store = store
	mux := http.NewServeMux()
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", value)
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "user"))
	})
	return &target{handler: sm.LoadAndSave(mux), remoteRequests: remoteRequests}
}

// startSCSRedis: scs's redisstore on a throwaway redis-server on a
// loopback port, with a pool as large as the number of clients.
func startSCSRedis(tb testing.TB, conns int) *target {
	srv := redistest.Start(tb)
	pool := &redis.Pool{
		MaxIdle:     conns,
		IdleTimeout: time.Minute,
		Dial:        func() (redis.Conn, error) { return redis.Dial("tcp", srv.Addr()) },
	}
	tb.Cleanup(func() { pool.Close() })
	return startSCS(redisstore.New(pool), nil)
}

// serveSystem starts s behind a loopback HTTP server with a keep-alive
// client for conns connections, and makes n sessions that hold the
// value: their Cookie headers ("" for plain, which sets no cookie).
func serveSystem(tb testing.TB, s system, conns, n int) (*target, *httptest.Server, *http.Client, []string) {
	tb.Helper()
	t := s.start(tb, conns)
	srv := httptest.NewServer(t.handler)
	tb.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}
	tb.Cleanup(client.CloseIdleConnections)
	cookies := make([]string, n)
	for i := range cookies {
		resp, err := client.Get(srv.URL + "/put")
		if err != nil {
			tb.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			tb.Fatalf("%s: GET /put: %s", s.name, resp.Status)
		}
		switch got := resp.Cookies(); {
		case s.name == "plain":
		case len(got) != 1:
			tb.Fatalf("%s: GET /put set %d cookies; want 1", s.name, len(got))
		default:
			cookies[i] = got[0].Name + "=" + got[0].Value
		}
	}
	return t, srv, client, cookies
}

// getRequest is GET /get with cookie ("" for none).
func getRequest(tb testing.TB, srv *httptest.Server, cookie string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/get", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

// hit sends req and checks that the answer is the value. buf is the
// caller's, reused.
func hit(client *http.Client, req *http.Request, buf []byte) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.ReadFull(resp.Body, buf[:len(value)])
	rest, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || rest != 0 || string(buf[:n]) != value {
		return fmt.Errorf("GET /get: %s, body %q (+%d bytes), %v", resp.Status, buf[:n], rest, err)
	}
	return nil
}

// Every system answers the value from the session, and a hit on a tier
// store costs no remote request (it is a local hit and writes nothing).
func TestSystemsServeHits(t *testing.T) {
	for _, s := range systems {
		t.Run(s.name, func(t *testing.T) {
			tg, srv, client, cookies := serveSystem(t, s, 4, 4)
			buf := make([]byte, 64)
			// The first hit of each session may load or touch it.
			for _, c := range cookies {
				if err := hit(client, getRequest(t, srv, c), buf); err != nil {
					t.Fatal(err)
				}
			}
			var before int64
			if tg.remoteRequests != nil {
				before = tg.remoteRequests()
			}
			for i := range 40 {
				if err := hit(client, getRequest(t, srv, cookies[i%len(cookies)]), buf); err != nil {
					t.Fatal(err)
				}
			}
			if tg.remoteRequests != nil {
				if n := tg.remoteRequests() - before; n != 0 {
					t.Fatalf("40 hits made %d remote requests; want 0", n)
				}
			}
			if s.name != "plain" {
				// Without the cookie the handler finds no value: the
				// value above came from the session.
				req := getRequest(t, srv, "")
				if err := hit(client, req, buf); err == nil || !strings.Contains(err.Error(), `body ""`) {
					t.Fatalf("GET /get without a cookie: %v; want an empty body", err)
				}
			}
		})
	}
}
