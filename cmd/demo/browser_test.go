package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumHint is how to get the browser the test drives.
const chromiumHint = "chromium not found on PATH; install it with: apt-get install -y chromium"

// envArtifacts names the directory the screenshots go to; default
// os.TempDir().
const envArtifacts = "TEST_ARTIFACTS"

// browserTimeout bounds one browser journey.
const browserTimeout = 30 * time.Second

// chromium returns the path of the browser, or skips the test (fails it
// under CI=true, so that CI cannot pass by skipping).
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(chromiumHint)
	}
	t.Skip(chromiumHint)
	return ""
}

// TestBrowser drives the demo with a real headless Chromium: log in, count,
// fire the parallel requests, log out. Twice: over plain http with the dev
// cookie (go run ./cmd/demo), and over TLS with HTTP/2 and the production
// cookie (__Host-session, Secure), where the 20 requests share one
// connection and really run at once. Each journey leaves a screenshot of
// the logged-in page in $TEST_ARTIFACTS (default: the system's temporary
// directory) as tiersession-demo-<mode>.png.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, // httptest's certificate
		chromedp.WindowSize(900, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	start := time.Now()
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))

	for _, mode := range []struct {
		name       string
		tls        bool
		cookieName string
	}{
		{"http", false, "session"},
		{"tls", true, "__Host-session"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			d := newTestDemo(t, !mode.tls)
			srv := httptest.NewUnstartedServer(d)
			if mode.tls {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			// A browser context of its own: no cookies from the other mode.
			ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
			defer cancel()
			j := &journey{t: t, ctx: ctx, url: srv.URL, cookieName: mode.cookieName, secure: mode.tls}
			j.watchErrors()
			j.run(filepath.Join(artifactDir(t), "tiersession-demo-"+mode.name+".png"))
			if st := d.sessions.Stats(); st.Renewed != 1 || st.Destroyed != 1 {
				t.Errorf("the server saw %d renewals and %d destroys; want 1 and 1", st.Renewed, st.Destroyed)
			} else {
				t.Logf("server: %d sessions created, %d saves, %d merged after a conflict", st.Created, st.Saved, st.Merged)
			}
		})
	}
}

// artifactDir is $TEST_ARTIFACTS, created if needed, or os.TempDir().
func artifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(envArtifacts)
	if dir == "" {
		return os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// journey is one user's visit, in one tab.
type journey struct {
	t          *testing.T
	ctx        context.Context
	url        string
	cookieName string
	secure     bool

	mu       sync.Mutex
	problems []string // uncaught exceptions and console or CSP errors
}

// watchErrors records the page's uncaught exceptions and error log
// entries (a Content-Security-Policy violation is one), which fail the
// test at its end.
func (j *journey) watchErrors() {
	exceptions := chromedp.Events(j.ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(j.ctx, log.EntryAdded)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			j.problem("exception: " + ev.ExceptionDetails.Text)
		}
	})
	wg.Go(func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == log.EntryLevelError {
				j.problem(fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	j.t.Cleanup(func() {
		wg.Wait() // the iterators end with the tab's context
		j.mu.Lock()
		defer j.mu.Unlock()
		for _, p := range j.problems {
			j.t.Errorf("page: %s", p)
		}
	})
}

func (j *journey) problem(p string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.problems = append(j.problems, p)
}

// do runs steps, failing the test with what on error.
func (j *journey) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		j.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks the button sel and waits for the page it leads to
// (POST, 303, GET /), which must answer 200.
func (j *journey) submit(what, sel string) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, browserTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		j.t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != 200 {
		j.t.Fatalf("%s: %s answered %d", what, resp.URL, resp.Status)
	}
	if j.secure && resp.Protocol != "h2" {
		j.t.Fatalf("%s: %s came over %q; want h2", what, resp.URL, resp.Protocol)
	}
}

// text is the text of the element sel.
func (j *journey) text(sel string) string {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, browserTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		j.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// cookie is the browser's session cookie for the page, or nil.
func (j *journey) cookie() *network.Cookie {
	j.t.Helper()
	res, err := chromedp.Call(j.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{j.url}})
	if err != nil {
		j.t.Fatalf("reading the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == j.cookieName {
			return c
		}
	}
	return nil
}

func (j *journey) run(screenshot string) {
	t := j.t
	j.do("opening the page", chromedp.Navigate(j.url), chromedp.WaitVisible(chromedp.ID("name")))
	if c := j.cookie(); c != nil {
		t.Fatalf("an anonymous page view set the cookie %s", c.Name)
	}

	j.do("typing the name", chromedp.SendKeys(chromedp.ID("name"), "alice"))
	j.submit("logging in", "#login")
	if got := j.text("#user"); got != "alice" {
		t.Fatalf("logged in as %q; want alice", got)
	}
	c := j.cookie()
	if c == nil {
		t.Fatalf("no %s cookie after login", j.cookieName)
	}
	if !c.HTTPOnly || c.Secure != j.secure || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("cookie %s: HttpOnly %v, Secure %v, SameSite %q; want true, %v, Lax", c.Name, c.HTTPOnly, c.Secure, c.SameSite, j.secure)
	}

	for want := 1; want <= 3; want++ {
		j.submit("incrementing", "#increment")
		if got := j.text("#count"); got != strconv.Itoa(want) {
			t.Fatalf("count %q after %d clicks", got, want)
		}
	}

	ctx, cancel := context.WithTimeout(j.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("parallel"))); err != nil {
		t.Fatalf("clicking the parallel button: %v", err)
	}
	state, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(s => s !== "idle" && s !== "running" && s)(document.getElementById("parallel-result").dataset.state)`,
		chromedp.WithPollingTimeout(browserTimeout)))
	if err != nil {
		t.Fatalf("waiting for the parallel requests: %v", err)
	}
	result := j.text("#parallel-result")
	want := fmt.Sprintf("%d of %d landed", parallelRequests, parallelRequests)
	if state != "ok" || !strings.HasPrefix(result, want) {
		t.Fatalf("parallel requests: state %q, %q; want ok, %q", state, result, want)
	}
	t.Logf("parallel: %s", result)
	if got, want := j.text("#keys"), strconv.Itoa(parallelRequests+2); got != want {
		t.Fatalf("the session holds %s keys; want %s (user, count and the parallel ones)", got, want)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", screenshot)

	j.submit("logging out", "#logout")
	if got := j.text("#bye"); got != "You are logged out." {
		t.Fatalf("after logout the page says %q", got)
	}
	j.do("finding the login form", chromedp.WaitVisible(chromedp.ID("name")))
	if c := j.cookie(); c != nil {
		t.Fatalf("the %s cookie is still there after logout", c.Name)
	}
}
