package httpsession

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// responseWriter saves the session when the response starts: at the
// handler's first WriteHeader (1xx informational codes aside), Write,
// ReadFrom, Flush or Hijack. Until then nothing has gone to the client, so
// a save that fails can still become the ErrorHandler's response.
//
// It implements http.Flusher (and FlushError) and http.Hijacker for
// handlers that assert them, io.ReaderFrom to keep sendfile, and Unwrap,
// so http.ResponseController reaches the underlying writer for deadlines
// and full duplex. Flush and Hijack are offered whatever the underlying
// writer supports; when it does not, they report http.ErrNotSupported
// (through ResponseController) after the session was saved.
//
// On a hijacked connection the handler writes the response itself, so a
// cookie due at that point (a new or renewed session) cannot be sent.
type responseWriter struct {
	http.ResponseWriter
	s     *Session
	r     *http.Request
	state uint8
}

const (
	stateOpen      uint8 = iota // nothing written yet
	stateCommitted              // session saved, headers set
	stateFailed                 // save failed; the ErrorHandler answered
)

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)

// commit saves the session once; it reports whether the handler's
// response may go on.
func (w *responseWriter) commit() bool {
	switch w.state {
	case stateCommitted:
		return true
	case stateFailed:
		return false
	}
	if err := w.s.commit(w.r.Context(), w.ResponseWriter.Header()); err != nil {
		w.state = stateFailed
		clear(w.ResponseWriter.Header()) // the handler's response is dropped
		w.s.m.fail(w.ResponseWriter, w.r, err)
		return false
	}
	w.state = stateCommitted
	return true
}

// finish runs after the handler returned.
func (w *responseWriter) finish() {
	if !w.commit() {
		return
	}
	w.s.finish(w.r.Context())
}

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if w.state != stateFailed { // informational: the response has not started
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write implements http.ResponseWriter. After a failed save it writes
// nothing and returns ErrSaveFailed.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.commit() {
		return 0, ErrSaveFailed
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom implements io.ReaderFrom, so io.Copy keeps the underlying
// writer's fast path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.commit() {
		return 0, ErrSaveFailed
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// writerOnly hides every method but Write, so io.Copy does not loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

// FlushError saves the session, then flushes the underlying writer; it is
// what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	if !w.commit() {
		return ErrSaveFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// Hijack implements http.Hijacker: the session is saved first.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit() {
		return nil, nil, ErrSaveFailed
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeHeaders sets the session headers on a response that is starting:
// Vary: Cookie always (what the handler wrote may depend on the session);
// the cookie, if one is due, with Cache-Control: no-store, so no shared
// cache ever stores a response that hands out a token. Caller holds s.mu.
func (m *Manager) writeHeaders(h http.Header, s *Session) {
	addVary(h)
	var c *http.Cookie
	switch {
	case s.issue:
		c = m.cookie(s.token, m.maxAge(s.created))
	case s.clear:
		c = m.cookie("", -1) // Max-Age=0: the browser drops it
	default:
		return
	}
	h.Add("Set-Cookie", c.String())
	h.Set("Cache-Control", "no-store")
	s.issue, s.clear, s.token = false, false, ""
}

// cookie is the session cookie with the configured attributes.
func (m *Manager) cookie(value string, maxAge int) *http.Cookie {
	o := m.opts.Cookie
	return &http.Cookie{
		Name:        o.Name,
		Value:       value,
		Path:        o.Path,
		Domain:      o.Domain,
		MaxAge:      maxAge,
		Secure:      !o.Insecure,
		HttpOnly:    !o.ScriptReadable,
		SameSite:    o.SameSite,
		Partitioned: o.Partitioned,
	}
}

// maxAge is the cookie's Max-Age for a session created at created: the
// whole seconds left of its Lifetime (0, no attribute, for a
// BrowserSession cookie).
func (m *Manager) maxAge(created time.Time) int {
	if m.opts.Cookie.BrowserSession {
		return 0
	}
	return max(int(created.Add(m.opts.Lifetime).Sub(m.opts.Now())/time.Second), 1)
}

// addVary adds Cookie to the Vary header unless it is there already.
func addVary(h http.Header) {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}
