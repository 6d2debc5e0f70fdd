package httpsession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Options configures a Manager. The zero value of every field means its
// default.
type Options struct {
	// IdleTimeout ends a session that has seen no request for this long.
	// The idle deadline is the record's ExpiresAt, moved by the store's
	// throttled Touch, so a request that changes nothing writes no data.
	// Keep it well above the store's TouchInterval (tier default: 1
	// minute): an idle session may end up to that much early. Default: 30
	// minutes. At least 1 second.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after it was created, however
	// active it is. The creation time is stored in the record; Renew keeps
	// it. Default: 24 hours. At least 1 second.
	Lifetime time.Duration
	// RenewGrace is how long the token that Renew replaced keeps working,
	// as a pointer to the new session, so that requests already in flight
	// with the old cookie are not logged out. Default: 10 seconds.
	// Negative: no grace, the old token stops working at once.
	RenewGrace time.Duration
	// WriteTimeout bounds each store write the Manager makes (save,
	// touch, renew, destroy). Writes are detached from the request's
	// context, so a client hanging up does not cut a save in half.
	// Default: 5 seconds.
	WriteTimeout time.Duration

	// Cookie sets the session cookie's name and attributes.
	Cookie CookieOptions
	// Dev is the development mode for plain http on localhost: the
	// default cookie name loses its __Host- prefix ("session") and the
	// cookie is not Secure. Never in production: the token would travel
	// in clear text. Default: false.
	Dev bool

	// AdoptUnknownTokens turns strict mode off: a well-formed token that
	// names no session becomes the token of the fresh session, instead of
	// being replaced by one the server issues. It opens the door to
	// session fixation; it exists for migrations only. Default: false
	// (strict: the server only ever uses tokens it issued).
	AdoptUnknownTokens bool

	// OwnerKey turns owners on: SetOwner ties a session to its user, and
	// List, End and DestroyAll ("log out everywhere") find the user's
	// sessions, over a store with owners (OwnerStore). The store indexes
	// sessions by a keyed hash of the user id, HMAC-SHA256 under OwnerKey
	// (tier.HashOwner), never by the user id itself: the table and its
	// index then hold no e-mail address or account number, and without
	// the key nobody can tell whose sessions an id groups. At least 16
	// bytes, from a secret store, the same on every node. Default: nil,
	// owners off (those methods fail with ErrNoOwners).
	OwnerKey []byte
	// PreviousOwnerKeys are owner keys that were OwnerKey before:
	// sessions tied to a user under one of them are still listed, ended
	// and destroyed, until they expire (Lifetime) or are renewed (a
	// renewed session is tied under OwnerKey). Default: none.
	PreviousOwnerKeys [][]byte

	// Codec encodes the session's values in the record. Default:
	// BinaryCodec. Changing it makes existing records unreadable (they
	// count as corrupt and their users get fresh sessions).
	Codec Codec
	// ErrorHandler writes the response when the session cannot be loaded
	// or saved; err says why (errors.Is against this package's and tier's
	// sentinels). It is called before any of the handler's response was
	// sent, with the handler's headers removed. Default: a plain 500
	// Internal Server Error that does not show err.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives the Manager's log lines: failures at Warn and
	// Error, session lifecycle facts at Debug. Lines never hold a token or
	// a storage key. Default: nil, no logging.
	Logger *slog.Logger
	// Now is the clock for timeouts and cookie ages. Default: time.Now.
	// Tests inject a manual clock (give the store the same one).
	Now func() time.Time
}

// CookieOptions sets the session cookie. Attributes that are on by
// default are turned off by a field named for what turning them off does.
type CookieOptions struct {
	// Name of the cookie. Default: "__Host-session", or "session" in Dev
	// mode. A __Host- name requires Secure, Path "/" and no Domain; a
	// __Secure- name requires Secure.
	Name string
	// Path attribute. Default: "/".
	Path string
	// Domain attribute. Default: "" (host-only cookie, the safe choice).
	Domain string
	// SameSite attribute. Default: http.SameSiteLaxMode.
	// http.SameSiteNoneMode requires Secure.
	SameSite http.SameSite
	// Insecure drops the Secure attribute, so that browsers send the
	// cookie over plain http. Default: false (Secure). Dev mode sets it.
	Insecure bool
	// ScriptReadable drops the HttpOnly attribute. Default: false
	// (HttpOnly: page scripts cannot read the token).
	ScriptReadable bool
	// BrowserSession sends the cookie without Max-Age, so the browser
	// forgets it when it closes. Default: false, the cookie carries
	// Max-Age = the time left until the session's Lifetime ends (no
	// Expires attribute; every browser in use honours Max-Age).
	BrowserSession bool
	// Partitioned adds the Partitioned attribute (CHIPS), for sessions in
	// third-party iframes. Requires Secure. Default: false.
	Partitioned bool
}

// Defaults.
const (
	DefaultIdleTimeout  = 30 * time.Minute
	DefaultLifetime     = 24 * time.Hour
	DefaultRenewGrace   = 10 * time.Second
	DefaultWriteTimeout = 5 * time.Second
	DefaultCookieName   = "__Host-session"
	DevCookieName       = "session"
)

// minOwnerKeyLen is the shortest owner key New accepts, in bytes.
const minOwnerKeyLen = 16

// ErrBadOptions is returned by New for option values it cannot use.
var ErrBadOptions = errors.New("httpsession: bad options")

// withDefaults returns o with every zero field set to its default, or an
// error matching ErrBadOptions.
func (o Options) withDefaults() (Options, error) {
	if o.IdleTimeout < 0 || o.Lifetime < 0 || o.WriteTimeout < 0 {
		return o, fmt.Errorf("%w: negative IdleTimeout, Lifetime or WriteTimeout", ErrBadOptions)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.IdleTimeout < time.Second || o.Lifetime < time.Second {
		return o, fmt.Errorf("%w: IdleTimeout and Lifetime must be at least 1s (the store keeps whole seconds)", ErrBadOptions)
	}
	for _, k := range append([][]byte{o.OwnerKey}, o.PreviousOwnerKeys...) {
		if k != nil && len(k) < minOwnerKeyLen {
			return o, fmt.Errorf("%w: an owner key of %d bytes; want at least %d", ErrBadOptions, len(k), minOwnerKeyLen)
		}
	}
	if len(o.PreviousOwnerKeys) > 0 && len(o.OwnerKey) == 0 {
		return o, fmt.Errorf("%w: PreviousOwnerKeys without an OwnerKey", ErrBadOptions)
	}
	if o.RenewGrace == 0 {
		o.RenewGrace = DefaultRenewGrace
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Codec == nil {
		o.Codec = BinaryCodec{}
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = defaultErrorHandler
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, err := o.Cookie.withDefaults(o.Dev)
	if err != nil {
		return o, err
	}
	o.Cookie = c
	return o, nil
}

func (c CookieOptions) withDefaults(dev bool) (CookieOptions, error) {
	if c.Name == "" {
		c.Name = DefaultCookieName
		if dev {
			c.Name = DevCookieName
		}
	}
	if dev {
		c.Insecure = true
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	probe := http.Cookie{Name: c.Name, Value: "x", Path: c.Path, Domain: c.Domain}
	if err := probe.Valid(); err != nil {
		return c, fmt.Errorf("%w: cookie: %w", ErrBadOptions, err)
	}
	switch {
	case strings.HasPrefix(c.Name, "__Host-") && (c.Insecure || c.Path != "/" || c.Domain != ""):
		return c, fmt.Errorf("%w: cookie %q needs Secure, Path \"/\" and no Domain (Dev mode drops Secure: pick a name without the prefix)", ErrBadOptions, c.Name)
	case strings.HasPrefix(c.Name, "__Secure-") && c.Insecure:
		return c, fmt.Errorf("%w: cookie %q needs Secure", ErrBadOptions, c.Name)
	case c.SameSite == http.SameSiteNoneMode && c.Insecure:
		return c, fmt.Errorf("%w: SameSite=None needs Secure", ErrBadOptions)
	case c.Partitioned && c.Insecure:
		return c, fmt.Errorf("%w: Partitioned needs Secure", ErrBadOptions)
	}
	return c, nil
}

// defaultErrorHandler answers 500 without showing the error.
func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
