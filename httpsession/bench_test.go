package httpsession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// benchHandler is the page both benchmarks serve: it reads one value
// when there is a session and writes a short body.
func benchHandler(w http.ResponseWriter, r *http.Request) {
	n := 0
	if s, ok := httpsession.FromContext(r.Context()); ok {
		n, _ = s.GetInt("visits")
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "visits %d", n)
}

// BenchmarkMiddlewareHit: a request whose session is in the local tier and
// that changes nothing — the common case — through the middleware: cookie
// parse, token check, storage key, local hit, decode, context, wrapper,
// and the throttled Touch. It reports the remote requests per op (0).
func BenchmarkMiddlewareHit(b *testing.B) {
	mem := remote.NewMemory(remote.MemoryOptions{})
	store, err := tier.New(mem, tier.Options{LocalTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	mgr, err := httpsession.New(store, httpsession.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := mgr.Handle(http.HandlerFunc(benchHandler))
	login := mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutInt("visits", 7)
		s.PutString("user", "alice")
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookie := rec.Result().Cookies()[0]
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	before := mem.Requests()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
	b.ReportMetric(float64(mem.Requests()-before)/float64(b.N), "remote-req/op")
}

// BenchmarkPlainHandler: the same page without the middleware.
func BenchmarkPlainHandler(b *testing.B) {
	h := http.HandlerFunc(benchHandler)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: httpsession.DefaultCookieName, Value: strings.Repeat("A", 43)})
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
