package httpsession_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
)

// startsResponse serves one request on a new session that puts cart=1
// and then calls start, and checks that the session was written by the
// time start returned and that the response carries its headers.
func startsResponse(t *testing.T, start func(w http.ResponseWriter) error) {
	t.Helper()
	f := newFixture(t, httpsession.Options{}, nil)
	var savedBefore bool
	var startErr error
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("cart", "1")
		n := f.writes(func() { startErr = start(w) })
		savedBefore = n == 1
		w.Write([]byte(" body"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if startErr != nil {
		t.Fatalf("starting the response: %v", startErr)
	}
	if !savedBefore {
		t.Fatal("the session was not saved when the response started")
	}
	tok := issued(t, rec)
	if tok == "" || rec.Header().Get("Vary") != "Cookie" {
		t.Fatalf("headers %v; want the cookie and Vary", rec.Header())
	}
	if got := f.body(t, "/get?k=cart", tok); got != "1" {
		t.Fatalf("cart = %q", got)
	}
}

// TestResponseStartSaves: every way a handler can start the response
// saves the session first, and the session headers go out with it.
func TestResponseStartSaves(t *testing.T) {
	tests := []struct {
		name  string
		start func(w http.ResponseWriter) error
	}{
		{"WriteHeader", func(w http.ResponseWriter) error { w.WriteHeader(http.StatusAccepted); return nil }},
		{"Write", func(w http.ResponseWriter) error { _, err := w.Write([]byte("x")); return err }},
		{"io.Copy (ReadFrom)", func(w http.ResponseWriter) error { _, err := io.Copy(w, strings.NewReader("x")); return err }},
		{"http.Flusher", func(w http.ResponseWriter) error { w.(http.Flusher).Flush(); return nil }},
		{"ResponseController.Flush", func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { startsResponse(t, tt.start) })
	}
}

// TestInformationalDoesNotCommit: a 103 Early Hints goes out before the
// session is saved (a change after it still counts), and the cookie goes
// with the final response.
func TestInformationalDoesNotCommit(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	var writes int64
	srv := httptest.NewServer(f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		w.Header().Set("Link", "</style.css>; rel=preload")
		writes = f.writes(func() { w.WriteHeader(http.StatusEarlyHints) })
		s.PutString("cart", "1")
		w.Write([]byte("ok"))
	})))
	defer srv.Close()
	var early []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { early = append(early, code); return nil },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if writes != 0 || len(early) != 1 || early[0] != http.StatusEarlyHints {
		t.Fatalf("the 103 made %d store writes, client saw %v; want 0 writes and one 103", writes, early)
	}
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("final response %d, cookies %v; want 200 with the session cookie", resp.StatusCode, resp.Cookies())
	}
	if got := f.body(t, "/get?k=cart", resp.Cookies()[0].Value); got != "1" {
		t.Fatalf("cart = %q", got)
	}
}

// TestResponseControllerOnRealServer: through a real server, the wrapper
// lets http.ResponseController flush, set deadlines and enable full
// duplex (through Unwrap), and the session is saved at the first flush.
func TestResponseControllerOnRealServer(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	errs := make(chan error, 4)
	srv := httptest.NewTLSServer(f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("stream", "on")
		rc := http.NewResponseController(w)
		errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		errs <- rc.EnableFullDuplex()
		w.Write([]byte("first "))
		errs <- rc.Flush()
		if _, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok {
			errs <- errors.New("no Unwrap")
		}
		w.Write([]byte("second"))
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("ResponseController: %v", err)
		}
	}
	if string(body) != "first second" || len(resp.Cookies()) != 1 {
		t.Fatalf("body %q, cookies %v", body, resp.Cookies())
	}
	f.stored(t, resp.Cookies()[0].Value)
}

// TestHijack: a handler that hijacks the connection (a WebSocket upgrade,
// say) has its session saved before it gets the connection; it writes
// the response itself, so no cookie can be set for it.
func TestHijack(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	tok := f.login(t)
	srv := httptest.NewServer(f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("ws", "upgraded")
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nraw ok")
		buf.Flush()
	})))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nCookie: "+httpsession.DefaultCookieName+"="+tok+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "raw ok" {
		t.Fatalf("hijacked response %q", body)
	}
	if got := f.body(t, "/get?k=ws", tok); got != "upgraded" {
		t.Fatalf("ws = %q; want the change saved before the hijack", got)
	}
}

// TestHijackNotSupported: on a writer that cannot hijack (HTTP/2, a
// recorder), Hijack reports it after saving the session, rather than
// the wrapper hiding the method.
func TestHijackNotSupported(t *testing.T) {
	f := newFixture(t, httpsession.Options{}, nil)
	var hijackErr error
	h := f.mgr.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, hijackErr = http.NewResponseController(w).Hijack()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(hijackErr, http.ErrNotSupported) {
		t.Fatalf("Hijack on a recorder: %v; want http.ErrNotSupported", hijackErr)
	}
}

// TestTokenNeverInLogs runs the whole lifecycle at Debug level, with a
// failing save and a failing touch, and checks the log lines hold no token
// and no storage key.
func TestTokenNeverInLogs(t *testing.T) {
	var fs *faultyStore
	f := newFixture(t, httpsession.Options{}, func(s httpsession.Store) httpsession.Store { fs = &faultyStore{Store: s}; return fs })
	var secrets []string
	keep := func(tok string) string {
		secrets = append(secrets, tok, tiersession.StorageKey(tok))
		return tok
	}
	tok := keep(f.login(t))
	tok = keep(issued(t, f.do(t, "/renew", tok)))
	fs.set(func(s *faultyStore) { s.saveErr = errors.New("boom") })
	f.do(t, "/set?k=a&v=b", tok)
	fs.set(func(s *faultyStore) { s.saveErr, s.touchErr = nil, errors.New("touch boom") })
	f.clock.Advance(5 * time.Minute)
	f.do(t, "/get?k=a", tok)
	f.do(t, "/destroy", tok)
	keep(tiersession.NewToken())
	f.do(t, "/get?k=a", secrets[len(secrets)-2]) // unknown token
	if f.logs.String() == "" || !strings.Contains(f.logs.String(), "touch boom") {
		t.Fatalf("expected log lines, got:\n%s", f.logs)
	}
	f.noSecrets(t, secrets...)
}
