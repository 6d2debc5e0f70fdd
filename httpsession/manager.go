package httpsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/tier"
)

// Store is what a Manager needs from the session store: *tier.Store and
// the root package's Store both provide it. Records are keyed by storage
// key (tiersession.StorageKey of the token); the Manager never hands the
// store a token.
type Store interface {
	Get(ctx context.Context, key string) (rec tier.Record, found bool, err error)
	Create(ctx context.Context, rec tier.Record) (tier.Record, error)
	Save(ctx context.Context, rec tier.Record) (tier.Record, error)
	Update(ctx context.Context, key string, fn func(tier.Record) (tier.Record, error)) (tier.Record, error)
	Touch(ctx context.Context, key string, expiresAt time.Time) (tier.Record, error)
	Delete(ctx context.Context, key string, version uint64) error
}

// OwnerStore is what the owner features (SetOwner, List, End,
// DestroyAll) need from the store besides Store: *tier.Store and the root
// package's Store provide it. A Manager detects it at run time; over a
// store without it those methods fail with ErrNoOwners.
type OwnerStore interface {
	List(ctx context.Context, owner string) ([]tier.Owned, error)
	End(ctx context.Context, owner, id string) error
	DestroyAll(ctx context.Context, owner string) error
}

var (
	_ Store      = (*tier.Store)(nil)
	_ OwnerStore = (*tier.Store)(nil)
)

// Errors callers act on, matched with errors.Is. Store failures come
// wrapped, so tier's sentinels (tier.ErrUnavailable, ...) match as well.
var (
	// ErrSessionEnded: the session was destroyed, expired or replaced
	// while the request ran, so this request's changes were not saved.
	ErrSessionEnded = errors.New("httpsession: session ended while the request ran")
	// ErrNoSession: the request did not go through this Manager's Handle.
	ErrNoSession = errors.New("httpsession: no session in the request (is the handler wrapped by Manager.Handle?)")
	// ErrResponseStarted: Renew was called after the response started,
	// when the new cookie can no longer be sent.
	ErrResponseStarted = errors.New("httpsession: response already started")
	// ErrSaveFailed is what a handler's Write returns after the session
	// could not be saved and the ErrorHandler has written the response.
	ErrSaveFailed = errors.New("httpsession: session not saved; the error handler answered")
	// ErrNoOwners: an owner feature was used without Options.OwnerKey, or
	// over a store without owners (see OwnerStore).
	ErrNoOwners = errors.New("httpsession: owners need Options.OwnerKey and a store with owners")
)

// Manager loads and saves the sessions of the requests that go through its
// middleware. It is safe for concurrent use; one Manager serves any number
// of handlers.
type Manager struct {
	store  Store
	owners OwnerStore // store's, when it has owners and OwnerKey is set
	opts   Options
	stats  counters
}

// New returns a Manager over store.
func New(store Store, opts Options) (*Manager, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrBadOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{store: store, opts: o}
	if len(o.OwnerKey) > 0 {
		m.owners, _ = store.(OwnerStore)
	}
	return m, nil
}

// Handle is the middleware. Before next runs, it reads the session the
// request's cookie names (a malformed cookie costs no store read; an
// unknown or expired one gets a fresh session) and puts it in the request's
// context, where FromContext finds it. When the response starts — next's
// first WriteHeader, Write, ReadFrom, Flush or Hijack — it saves the
// session if the request changed it, sets the cookie if one is due, and
// adds Vary: Cookie. If next never writes, that happens when it returns.
// A request that changed nothing writes no data; its idle deadline moves
// through the store's throttled Touch when next returns.
//
// If the session cannot be loaded or saved, Options.ErrorHandler writes
// the response instead (next does not run, or its response is dropped).
// Changes made after the response started are saved when next returns,
// but cannot set a cookie or change the response; a failure then is
// logged and counted (Stats.LateSaveErrors). A handler that panics saves
// nothing that was not saved before the panic.
func (m *Manager) Handle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One allocation for the request's session and writer.
		x := &struct {
			s Session
			w responseWriter
		}{}
		s := &x.s
		if err := m.load(r, s); err != nil {
			m.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		x.w = responseWriter{ResponseWriter: w, s: s, r: r}
		next.ServeHTTP(&x.w, r)
		x.w.finish()
	})
}

// sessionOf returns r's session if this Manager made it.
func (m *Manager) sessionOf(r *http.Request) (*Session, error) {
	s, ok := FromContext(r.Context())
	if !ok || s.m != m {
		return nil, ErrNoSession
	}
	return s, nil
}

// load reads the session r's cookie names into s. Only a store failure
// is an error; every other way of not finding a session leaves s a fresh
// one.
func (m *Manager) load(r *http.Request, s *Session) error {
	now := m.opts.Now()
	s.m, s.created = m, now.Truncate(time.Second)
	tok, ok := cookieValue(r.Header, m.opts.Cookie.Name)
	if !ok {
		return nil // no cookie
	}
	// Length and alphabet first: a malformed, oversized or tampered
	// cookie never reaches the store.
	if !tiersession.ValidToken(tok) {
		m.stats.malformed.Add(1)
		return nil
	}
	presented := tiersession.StorageKey(tok)
	key := presented
	for hop := 0; hop <= maxHops; hop++ {
		rec, found, err := m.store.Get(r.Context(), key)
		if errors.Is(err, tier.ErrCorrupt) {
			m.corrupt(r.Context(), err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("httpsession: loading the session: %w", err)
		}
		if !found {
			if hop > 0 {
				m.stats.unknown.Add(1) // a pointer to a session since ended
				return nil
			}
			if m.opts.AdoptUnknownTokens {
				s.adopt = tok
				m.stats.adopted.Add(1)
			} else {
				m.stats.unknown.Add(1)
			}
			return nil
		}
		p, err := parseRecord(rec.Data)
		if err != nil {
			m.corrupt(r.Context(), err)
			return nil
		}
		if p.successor != "" { // renewed within RenewGrace: follow
			key = p.successor
			continue
		}
		if !m.live(p.created, rec.ExpiresAt, now) {
			m.stats.expired.Add(1)
			return nil
		}
		values, err := m.decodeValues(p.payload)
		if err != nil {
			m.corrupt(r.Context(), err)
			return nil
		}
		s.key, s.version, s.expiresAt = key, rec.Version, rec.ExpiresAt
		s.created, s.owned, s.values = p.created, p.owned, values
		if hop > 0 {
			s.via = presented
			m.stats.redirected.Add(1)
		}
		return nil
	}
	m.corrupt(r.Context(), fmt.Errorf("%w: more than %d renewals within RenewGrace", errCorrupt, maxHops))
	return nil
}

// corrupt counts and logs a record that does not decode; its request gets
// a fresh session.
func (m *Manager) corrupt(ctx context.Context, err error) {
	m.stats.corrupt.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.WarnContext(ctx, "httpsession: session record does not decode; starting a fresh session", "err", err)
	}
}

// fail answers r through the ErrorHandler.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	m.stats.failures.Add(1)
	if m.opts.Logger != nil {
		m.opts.Logger.ErrorContext(r.Context(), "httpsession: session failure; answering through the error handler", "err", err)
	}
	m.opts.ErrorHandler(w, r, err)
}

// writeContext is the context of a store write made for r: it keeps r's
// values but not its cancellation (a client hanging up must not cut a save
// in half), bounded by WriteTimeout.
func (m *Manager) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), m.opts.WriteTimeout)
}

// cookieValue returns the value of the first cookie called name in the
// request's Cookie headers, without the double quotes a value may be
// wrapped in, as Request.Cookie would, but without allocating: the value
// is a substring of the header. It does not check the value's bytes;
// tiersession.ValidToken does, more strictly.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
