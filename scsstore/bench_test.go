package scsstore_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"

	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
)

// BenchmarkLoadAndSave measures one request through scs's LoadAndSave
// middleware that reads a session it finds (a hit), with each store:
// scs's memstore, this package over tier.Store on the in-memory remote,
// and scs's redisstore on a real redis-server over loopback. "idle" sets
// an IdleTimeout, so scs commits the unchanged session on every request as
// well. "plain" is the handler alone, without sessions. Compare ns/op
// between sub-benchmarks of one run, never across runs.
func BenchmarkLoadAndSave(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/get", nil)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "alice") })
		serve(b, h, req)
	})
	stores := []struct {
		name string
		open func(b *testing.B) (scs.Store, func() float64)
	}{
		{"memstore", func(b *testing.B) (scs.Store, func() float64) {
			return memstore.NewWithCleanupInterval(0), nil
		}},
		{"tier", func(b *testing.B) (scs.Store, func() float64) {
			mem := remote.NewMemory(remote.MemoryOptions{})
			ts, err := tier.New(mem, tier.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ts.Close() })
			return scsstore.New(ts), func() float64 { return float64(mem.Requests()) }
		}},
		{"redisstore", func(b *testing.B) (scs.Store, func() float64) {
			srv := redistest.Start(b)
			pool := &redis.Pool{
				MaxIdle: 4,
				Dial:    func() (redis.Conn, error) { return redis.Dial("tcp", srv.Addr()) },
			}
			b.Cleanup(func() { pool.Close() })
			return redisstore.New(pool), nil
		}},
	}
	for _, st := range stores {
		for _, idle := range []time.Duration{0, 30 * time.Minute} {
			name := st.name
			if idle > 0 {
				name += "/idle"
			}
			b.Run(name, func(b *testing.B) {
				store, requests := st.open(b)
				sm := scs.New()
				sm.Store = store
				sm.IdleTimeout = idle
				h, req := sessionHit(b, sm)
				var before float64
				if requests != nil {
					before = requests()
				}
				serve(b, h, req)
				if requests != nil {
					b.ReportMetric((requests()-before)/float64(b.N), "remote/op")
				}
			})
		}
	}
}

// sessionHit returns sm's middleware over a handler that reads a session
// value, and a request carrying the cookie of a session that holds it.
func sessionHit(b *testing.B, sm *scs.SessionManager) (http.Handler, *http.Request) {
	b.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", "alice")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "user"))
	})
	h := sm.LoadAndSave(mux)
	put := httptest.NewRecorder()
	h.ServeHTTP(put, httptest.NewRequest(http.MethodGet, "/put", nil))
	cookies := put.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("/put set %d cookies; want 1", len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/get", nil)
	req.AddCookie(cookies[0])
	return h, req
}

// serve runs req through h b.N times, checking every answer.
func serve(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.Len() != len("alice") {
			b.Fatalf("GET /get: %d %q", w.Code, w.Body)
		}
	}
}
