package main

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

//go:embed page.html
var pageHTML string

//go:embed static
var staticFS embed.FS

var page = template.Must(template.New("page").Parse(pageHTML))

// Session keys.
const (
	keyUser  = "user"
	keyCount = "count"
	// keyParallel prefixes the keys the parallel requests set:
	// parallel.0, parallel.1, ...
	keyParallel = "parallel."
)

// Parallel requests: the page fires parallelRequests at once; the server
// takes indexes below maxParallel, which bounds the keys a session holds.
const (
	parallelRequests = 20
	maxParallel      = 64
	maxNameLen       = 40
)

// demo is the app: the store, the session Manager over it, the metrics
// registry and the routes.
type demo struct {
	store     *tiersession.Store
	sessions  *httpsession.Manager
	registry  *prometheus.Registry
	handler   http.Handler
	storeDesc string
	logger    *slog.Logger
}

// open opens the store c names and builds the app on it. Close it.
func open(ctx context.Context, c config, logger *slog.Logger) (*demo, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	tc := tiersession.Config{
		Table:       c.table,
		Endpoint:    c.endpoint,
		EnsureTable: c.createTable,
		RedisAddr:   c.redis,
		Registerer:  reg,
		Tier: tier.Options{
			// httpsession merges a conflicting save inside store.Update;
			// the page's parallel requests are that many writers on one
			// session, so allow each save that many attempts.
			MaxUpdateRetries: 2 * maxParallel,
		},
	}
	desc := "in-memory (sessions are lost when the process exits)"
	if c.table != "" {
		desc = "DynamoDB table " + c.table
		tc.OwnerIndex = remote.DefaultOwnerIndex
	}
	if c.redis != "" {
		tc.Bus = invalidation.RedisOptions{Keys: []invalidation.Key{{ID: busKeyID, Secret: []byte(c.busSecret)}}}
		desc += ", Redis bus at " + c.redis
	}
	store, err := tiersession.Open(ctx, tc)
	if err != nil {
		return nil, err
	}
	ownerKey := c.ownerKey
	if ownerKey == "" {
		ownerKey = tiersession.NewToken() // 256 random bits: fine for one node
	}
	sessions, err := httpsession.New(store, httpsession.Options{Dev: c.dev, Logger: logger, OwnerKey: []byte(ownerKey)})
	if err != nil {
		store.Close()
		return nil, err
	}
	reg.MustRegister(sessions)
	d := &demo{store: store, sessions: sessions, registry: reg, storeDesc: desc, logger: logger}
	d.handler = d.routes()
	return d, nil
}

// Close closes the store.
func (d *demo) Close() error { return d.store.Close() }

// ServeHTTP implements http.Handler.
func (d *demo) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

// routes: /metrics and /static/ outside the sessions, the rest inside,
// behind cross-origin protection.
func (d *demo) routes() http.Handler {
	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", d.home)
	app.HandleFunc("POST /login", d.login)
	app.HandleFunc("POST /count", d.count)
	app.HandleFunc("POST /parallel", d.parallelSet)
	app.HandleFunc("GET /parallel", d.parallelCheck)
	app.HandleFunc("POST /logout", d.logout)
	app.HandleFunc("POST /logout-everywhere", d.logoutEverywhere)

	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.Handle("/", http.NewCrossOriginProtection().Handler(d.sessions.Handle(app)))
	return securityHeaders(mux)
}

// securityHeaders: the page loads nothing from elsewhere and runs only
// the demo's own script.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// session is the request's session; the routes that call it run inside
// the Manager's middleware.
func session(r *http.Request) *httpsession.Session {
	s, ok := httpsession.FromContext(r.Context())
	if !ok {
		panic("demo: route outside the session middleware")
	}
	return s
}

// pageData is what page.html shows.
type pageData struct {
	User      string
	Count     int
	Keys      int
	Since     string
	Parallel  int
	Store     string
	Error     string
	LoggedOut bool
}

func (d *demo) home(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "")
}

// render writes the page for r's session with status and an error
// message ("" for none).
func (d *demo) render(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s := session(r)
	data := pageData{Parallel: parallelRequests, Store: d.storeDesc, Error: msg, LoggedOut: r.URL.Query().Has("bye")}
	data.User, _ = s.GetString(keyUser)
	data.Count, _ = s.GetInt(keyCount)
	data.Keys = len(s.Keys())
	if data.User != "" {
		data.Since = s.CreatedAt().Format(time.RFC1123)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.Execute(w, data); err != nil {
		d.logger.Warn("rendering the page", "err", err)
	}
}

// login renews the session (a token known before the login does not
// reach the logged-in session), ties it to the name as its owner and
// remembers the name. There are no
// passwords: it is a demo of the session, not of authentication.
func (d *demo) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if msg := nameProblem(name); msg != "" {
		d.render(w, r, http.StatusBadRequest, msg)
		return
	}
	// SetOwner renews the session as Renew does, and ties it to the
	// name, so that "log out everywhere" can end every session of it.
	meta := map[string]string{"device": deviceLabel(r.UserAgent())}
	if err := d.sessions.SetOwner(r, name, meta); err != nil {
		d.logger.Warn("login: set owner", "err", err)
		d.render(w, r, http.StatusServiceUnavailable, "Could not log in, try again.")
		return
	}
	s := session(r)
	s.PutString(keyUser, name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// deviceLabel is a short label of the browser for a list of devices.
func deviceLabel(ua string) string {
	const max = 64
	if ua == "" {
		return "unknown browser"
	}
	if len(ua) > max {
		ua = strings.ToValidUTF8(ua[:max], "")
	}
	return ua
}

// nameProblem says what is wrong with name, for the page, or "": a name
// is 1 to maxNameLen printable characters.
func nameProblem(name string) string {
	if name == "" {
		return "Enter a name."
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen {
		return fmt.Sprintf("A name has at most %d characters.", maxNameLen)
	}
	for _, c := range name {
		if !unicode.IsPrint(c) {
			return "A name has printable characters only."
		}
	}
	return ""
}

// loggedIn reports whether r's session has logged in.
func loggedIn(r *http.Request) bool {
	_, ok := session(r).GetString(keyUser)
	return ok
}

// count increments the session's counter (Post/Redirect/Get). A read,
// then a write of one key: two parallel clicks may count once; the
// parallel requests below show how to write without losing anything.
func (d *demo) count(w http.ResponseWriter, r *http.Request) {
	if loggedIn(r) {
		s := session(r)
		n, _ := s.GetInt(keyCount)
		s.PutInt(keyCount, n+1)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// parallelSet sets key parallel.<i> to run. The page sends many of these
// at once; each changes its own key, so all of them land, whatever the
// order in which their saves meet.
func (d *demo) parallelSet(w http.ResponseWriter, r *http.Request) {
	if !loggedIn(r) {
		http.Error(w, "log in first", http.StatusUnauthorized)
		return
	}
	run := r.PostFormValue("run")
	i, err := strconv.Atoi(r.PostFormValue("i"))
	if run == "" || len(run) > 64 || err != nil || i < 0 || i >= maxParallel {
		http.Error(w, fmt.Sprintf("want run (1 to 64 bytes) and i in [0, %d)", maxParallel), http.StatusBadRequest)
		return
	}
	session(r).PutString(keyParallel+strconv.Itoa(i), run)
	w.WriteHeader(http.StatusNoContent)
}

// parallelResult is the answer of GET /parallel.
type parallelResult struct {
	Want   int `json:"want"`   // n
	Landed int `json:"landed"` // how many of the n keys hold run
	Keys   int `json:"keys"`   // how many keys the session holds
}

// parallelCheck counts the keys parallel.0 .. parallel.<n-1> that hold run.
func (d *demo) parallelCheck(w http.ResponseWriter, r *http.Request) {
	if !loggedIn(r) {
		http.Error(w, "log in first", http.StatusUnauthorized)
		return
	}
	run := r.FormValue("run")
	n, err := strconv.Atoi(r.FormValue("n"))
	if run == "" || err != nil || n < 1 || n > maxParallel {
		http.Error(w, fmt.Sprintf("want run and n in [1, %d]", maxParallel), http.StatusBadRequest)
		return
	}
	s := session(r)
	res := parallelResult{Want: n, Keys: len(s.Keys())}
	for i := range n {
		if v, _ := s.GetString(keyParallel + strconv.Itoa(i)); v == run {
			res.Landed++
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// logout destroys the session: its record goes from the store and, through
// the bus, from every node; the response clears the cookie.
func (d *demo) logout(w http.ResponseWriter, r *http.Request) {
	if err := d.sessions.Destroy(r); err != nil {
		d.logger.Warn("logout: destroy", "err", err)
		d.render(w, r, http.StatusServiceUnavailable, "Could not log out, try again.")
		return
	}
	http.Redirect(w, r, "/?bye", http.StatusSeeOther)
}

// logoutEverywhere ends every session of the logged-in user, on every
// node and every device (DestroyAll), then this one's cookie (Destroy).
func (d *demo) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	owner := session(r).Owner()
	if owner == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err := d.sessions.DestroyAll(r.Context(), owner); err != nil {
		d.logger.Warn("logout everywhere: destroy all", "err", err)
		d.render(w, r, http.StatusServiceUnavailable, "Could not log out everywhere, try again.")
		return
	}
	d.logout(w, r)
}
