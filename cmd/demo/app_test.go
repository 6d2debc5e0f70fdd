package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newTestDemo opens the demo on the in-memory store, closed when the test
// ends.
func newTestDemo(t testing.TB, dev bool) *demo {
	t.Helper()
	d, err := open(context.Background(), config{dev: dev}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// client is a browser without JavaScript: a cookie jar, no redirects
// followed unless follow.
type client struct {
	t   testing.TB
	srv *httptest.Server
	c   *http.Client
}

func newClient(t testing.TB, srv *httptest.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A copy: srv.Client returns one shared *http.Client, and two
	// browsers must not share a jar.
	c := *srv.Client()
	c.Jar = jar
	return &client{t: t, srv: srv, c: &c}
}

// do sends method path with form (nil for none) and returns the status
// and body of the final response (redirects followed).
func (c *client) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// token is the session cookie in the jar ("" if none).
func (c *client) token(name string) string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// The whole journey without a browser: login, count, parallel, the
// log-out-everywhere hook, logout.
func TestJourney(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := newClient(t, srv)

	if code, body := c.do("GET", "/", nil); code != 200 || !strings.Contains(body, `id="login"`) {
		t.Fatalf("GET /: %d, no login form:\n%s", code, body)
	}
	if c.token("session") != "" {
		t.Fatal("an anonymous page view set a cookie")
	}
	if code, body := c.do("POST", "/login", url.Values{"name": {"  "}}); code != 400 || !strings.Contains(body, "Enter a name.") {
		t.Fatalf("empty name: %d\n%s", code, body)
	}
	if code, body := c.do("POST", "/login", url.Values{"name": {"alice"}}); code != 200 || !strings.Contains(body, `<strong id="user">alice</strong>`) {
		t.Fatalf("login: %d\n%s", code, body)
	}
	tok := c.token("session")
	if !tiersession.ValidToken(tok) {
		t.Fatalf("after login the jar holds %q; want a session token", tok)
	}
	if st := d.sessions.Stats(); st.Renewed != 1 {
		t.Fatalf("login renewed %d times; want 1", st.Renewed)
	}

	for want := 1; want <= 3; want++ {
		_, body := c.do("POST", "/count", url.Values{})
		if !strings.Contains(body, fmt.Sprintf(`<output id="count">%d</output>`, want)) {
			t.Fatalf("count %d:\n%s", want, body)
		}
	}

	const n = parallelRequests
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			code, _ := c.do("POST", "/parallel", url.Values{"run": {"r1"}, "i": {fmt.Sprint(i)}})
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusNoContent {
			t.Fatalf("POST /parallel: %d", code)
		}
	}
	code, body := c.do("GET", fmt.Sprintf("/parallel?run=r1&n=%d", n), nil)
	var res parallelResult
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil {
		t.Fatalf("GET /parallel: %d %v\n%s", code, err, body)
	}
	if want := (parallelResult{Want: n, Landed: n, Keys: n + 2}); res != want {
		t.Fatalf("GET /parallel: %+v; want %+v", res, want)
	}
	t.Logf("%d of %d parallel saves were merged after a conflict", d.sessions.Stats().Merged, n)

	if code, body := c.do("POST", "/logout", url.Values{}); code != 200 || !strings.Contains(body, `id="bye"`) || !strings.Contains(body, `id="login"`) {
		t.Fatalf("logout: %d\n%s", code, body)
	}
	if got := c.token("session"); got != "" {
		t.Fatal("the jar still holds the cookie after logout")
	}
	// The old token names nothing any more.
	replay := newClient(t, srv)
	u, _ := url.Parse(srv.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: tok}})
	if _, body := replay.do("GET", "/", nil); !strings.Contains(body, `id="login"`) {
		t.Fatalf("the destroyed token still logs in:\n%s", body)
	}
}

// Requests a route refuses, and how.
func TestRefused(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d)
	defer srv.Close()
	in := newClient(t, srv)
	in.do("POST", "/login", url.Values{"name": {"bob"}})

	for _, tc := range []struct {
		name     string
		loggedIn bool
		method   string
		path     string
		form     url.Values
		header   http.Header
		want     int
	}{
		{"parallel before login", false, "POST", "/parallel", url.Values{"run": {"r"}, "i": {"0"}}, nil, 401},
		{"check before login", false, "GET", "/parallel?run=r&n=1", nil, nil, 401},
		{"parallel index too big", true, "POST", "/parallel", url.Values{"run": {"r"}, "i": {fmt.Sprint(maxParallel)}}, nil, 400},
		{"parallel index negative", true, "POST", "/parallel", url.Values{"run": {"r"}, "i": {"-1"}}, nil, 400},
		{"parallel without run", true, "POST", "/parallel", url.Values{"i": {"0"}}, nil, 400},
		{"check n too big", true, "GET", fmt.Sprintf("/parallel?run=r&n=%d", maxParallel+1), nil, nil, 400},
		{"name too long", false, "POST", "/login", url.Values{"name": {strings.Repeat("é", maxNameLen+1)}}, nil, 400},
		{"name with a control character", false, "POST", "/login", url.Values{"name": {"a\x07b"}}, nil, 400},
		{"cross-site login", false, "POST", "/login", url.Values{"name": {"eve"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross-site logout", true, "POST", "/logout", url.Values{}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross-origin count", true, "POST", "/count", url.Values{}, http.Header{"Origin": {"http://evil.example"}}, 403},
		{"unknown path", false, "GET", "/nope", nil, nil, 404},
		{"GET logout", true, "GET", "/logout", nil, nil, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := http.DefaultClient
			if tc.loggedIn {
				c = &http.Client{Jar: in.c.Jar}
			}
			var body io.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: %d; want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
		})
	}
	// Bob is still logged in: the cross-site logout did nothing.
	if _, body := in.do("GET", "/", nil); !strings.Contains(body, `<strong id="user">bob</strong>`) {
		t.Fatalf("bob was logged out:\n%s", body)
	}
}

// A count before login changes nothing and sets no cookie.
func TestCountBeforeLogin(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := newClient(t, srv)
	if code, body := c.do("POST", "/count", url.Values{}); code != 200 || !strings.Contains(body, `id="login"`) {
		t.Fatalf("count before login: %d\n%s", code, body)
	}
	if c.token("session") != "" || d.sessions.Stats().Created != 0 {
		t.Fatal("a count before login stored a session")
	}
}

// The production cookie (no -dev) over TLS: __Host-session, Secure.
func TestProductionCookie(t *testing.T) {
	d := newTestDemo(t, false)
	srv := httptest.NewTLSServer(d)
	defer srv.Close()
	c := newClient(t, srv)
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("name=carol"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-session" || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Fatalf("login set %v; want one __Host-session cookie, Secure, HttpOnly", cookies)
	}
}

// /metrics has the store's, the Manager's and Go's collectors.
func TestMetrics(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := newClient(t, srv)
	c.do("POST", "/login", url.Values{"name": {"dave"}})
	c.do("POST", "/count", url.Values{})
	code, body := c.do("GET", "/metrics", nil)
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		"tiersession_httpsession_renewals_total 1",
		"tiersession_httpsession_sessions_created_total",
		"tiersession_local_hits_total",
		"tiersession_remote_requests_total",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// The page and its assets carry the security headers, and the assets are
// served.
func TestStaticAndHeaders(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d)
	defer srv.Close()
	for _, path := range []string{"/", "/static/demo.js", "/static/demo.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
}

// With -redis the store runs with the authenticated bus on a real
// redis-server, and the journey's first steps work the same.
func TestRedisBus(t *testing.T) {
	srv := redistest.Start(t)
	c := config{dev: true, redis: srv.Addr(), busSecret: strings.Repeat("k", 32)}
	d, err := open(context.Background(), c, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(d.storeDesc, "Redis bus at "+srv.Addr()) {
		t.Fatalf("store described as %q", d.storeDesc)
	}
	hs := httptest.NewServer(d)
	defer hs.Close()
	cl := newClient(t, hs)
	cl.do("POST", "/login", url.Values{"name": {"frank"}})
	if _, body := cl.do("POST", "/count", url.Values{}); !strings.Contains(body, `<output id="count">1</output>`) {
		t.Fatalf("count over the bus-backed store:\n%s", body)
	}
	if _, body := cl.do("GET", "/metrics", nil); !strings.Contains(body, "tiersession_bus_connected 1") {
		t.Errorf("/metrics does not show the bus connected")
	}
}

// TestLogoutEverywhere: the same name logged in on two devices; "log out
// everywhere" on one ends both, and another name's session survives.
func TestLogoutEverywhere(t *testing.T) {
	d := newTestDemo(t, true)
	srv := httptest.NewServer(d.handler)
	defer srv.Close()
	phone, laptop, other := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	for _, c := range []*client{phone, laptop} {
		if code, body := c.do("POST", "/login", url.Values{"name": {"alice"}}); code != 200 || !strings.Contains(body, "alice") {
			t.Fatalf("login: %d\n%s", code, body)
		}
	}
	if code, _ := other.do("POST", "/login", url.Values{"name": {"bob"}}); code != 200 {
		t.Fatalf("login bob: %d", code)
	}
	if code, body := phone.do("POST", "/logout-everywhere", url.Values{}); code != 200 || !strings.Contains(body, `id="login"`) {
		t.Fatalf("logout everywhere: %d\n%s", code, body)
	}
	if _, body := laptop.do("GET", "/", nil); !strings.Contains(body, `id="login"`) {
		t.Fatalf("the laptop is still logged in after log out everywhere:\n%s", body)
	}
	if _, body := other.do("GET", "/", nil); !strings.Contains(body, "bob") {
		t.Fatalf("another user's session ended too:\n%s", body)
	}
}
