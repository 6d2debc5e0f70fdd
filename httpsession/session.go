package httpsession

import (
	"bytes"
	"context"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/tiersession/tiersession/tier"
)

// Session is one request's view of a session: the values it read, and the
// keys this request set or removed, which is all that its save writes
// back. It is safe for concurrent use by the goroutines of one request.
//
// Getters return the value and whether the key holds a value of that type.
// Setters record the change; nothing is written until the response starts
// (see Manager.Handle). Setting a key to the value it already holds is not
// a change.
type Session struct {
	m  *Manager
	mu sync.Mutex

	// The stored session record, if there is one.
	key       string    // its storage key; "" until the session is stored
	version   uint64    // the version this request holds
	expiresAt time.Time // its ExpiresAt as last read or written
	via       string    // the key the cookie named, when it led here through pointers
	created   time.Time // whole seconds, as stored
	owned     owned     // the owner SetOwner gave the session, as stored

	values map[string]any      // current values, this request's changes applied
	dirty  map[string]struct{} // keys set or removed since the last save

	token   string // token of a session not yet stored, or of a renewal; "" otherwise
	adopt   string // AdoptUnknownTokens: the client's token, for a new session
	issue   bool   // the response sets the cookie to token
	clear   bool   // the response clears the cookie (Destroy)
	started bool   // the response has started: no cookie can be set any more
	wrote   bool   // this request wrote the record (no idle Touch needed)
}

type ctxKey struct{}

// FromContext returns the session of the request whose context is ctx, as
// Manager.Handle put it there; ok is false outside Handle. With several
// Managers nested, it is the innermost one's.
func FromContext(ctx context.Context) (s *Session, ok bool) {
	s, ok = ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// Get returns the value under key, as Put stored it (integers as int64,
// floats as float64, times in UTC, a copy of a []byte).
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if b, isBytes := v.([]byte); isBytes {
		v = slices.Clone(b)
	}
	return v, ok
}

func getAs[T any](s *Session, key string) (T, bool) {
	s.mu.Lock()
	v, ok := s.values[key].(T)
	s.mu.Unlock()
	return v, ok
}

// GetString returns the string under key.
func (s *Session) GetString(key string) (string, bool) { return getAs[string](s, key) }

// GetInt returns the integer under key.
func (s *Session) GetInt(key string) (int, bool) {
	v, ok := getAs[int64](s, key)
	return int(v), ok
}

// GetInt64 returns the integer under key.
func (s *Session) GetInt64(key string) (int64, bool) { return getAs[int64](s, key) }

// GetFloat returns the float under key.
func (s *Session) GetFloat(key string) (float64, bool) { return getAs[float64](s, key) }

// GetBool returns the bool under key.
func (s *Session) GetBool(key string) (bool, bool) { return getAs[bool](s, key) }

// GetTime returns the time under key, in UTC.
func (s *Session) GetTime(key string) (time.Time, bool) { return getAs[time.Time](s, key) }

// GetBytes returns a copy of the bytes under key.
func (s *Session) GetBytes(key string) ([]byte, bool) {
	v, ok := getAs[[]byte](s, key)
	return slices.Clone(v), ok
}

// Put sets key to v, which must be a string, bool, integer (stored as
// int64; a uint64 above MaxInt64 is refused), float (stored as float64),
// time.Time or []byte (copied). Any other type fails with
// ErrUnsupportedValue and changes nothing.
func (s *Session) Put(key string, v any) error {
	n, err := normalize(v)
	if err != nil {
		return err
	}
	s.put(key, n)
	return nil
}

// PutString sets key to v.
func (s *Session) PutString(key, v string) { s.put(key, v) }

// PutInt sets key to v.
func (s *Session) PutInt(key string, v int) { s.put(key, int64(v)) }

// PutInt64 sets key to v.
func (s *Session) PutInt64(key string, v int64) { s.put(key, v) }

// PutFloat sets key to v.
func (s *Session) PutFloat(key string, v float64) { s.put(key, v) }

// PutBool sets key to v.
func (s *Session) PutBool(key string, v bool) { s.put(key, v) }

// PutTime sets key to v, kept in UTC without its monotonic reading.
func (s *Session) PutTime(key string, v time.Time) { s.put(key, v.Round(0).UTC()) }

// PutBytes sets key to a copy of v.
func (s *Session) PutBytes(key string, v []byte) { s.put(key, slices.Clone(v)) }

func (s *Session) put(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.values[key]; ok && sameValue(old, v) {
		return
	}
	if s.values == nil {
		s.values = make(map[string]any)
	}
	s.values[key] = v
	s.markDirty(key)
}

// Remove deletes key. Removing an absent key is not a change.
func (s *Session) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[key]; !ok {
		return
	}
	delete(s.values, key)
	s.markDirty(key)
}

// Keys returns the keys that hold a value, in ascending order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.values))
}

// CreatedAt returns when the session was created, to the second. Its
// Lifetime counts from then; Renew keeps it.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Owner returns the owner SetOwner tied the session to (the application's
// user id, as given), or "" for a session without owner.
func (s *Session) Owner() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned.owner
}

// ID returns the session's opaque id, as Manager.List shows it (see
// tier.SessionID), so that a "your devices" page can mark the device it
// is shown on; "" while the session is not stored. The id reveals neither
// the token nor the storage key.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == "" {
		return ""
	}
	return tier.SessionID(s.key)
}

// markDirty records that this request changed key. Caller holds s.mu.
func (s *Session) markDirty(key string) {
	if s.dirty == nil {
		s.dirty = make(map[string]struct{})
	}
	s.dirty[key] = struct{}{}
}

// applyChanges writes this request's changes over values (a session as
// another request left it): per key, the last writer wins. Caller holds
// s.mu.
func (s *Session) applyChanges(values map[string]any) {
	for k := range s.dirty {
		if v, ok := s.values[k]; ok {
			values[k] = v
		} else {
			delete(values, k)
		}
	}
}

// sameValue reports whether two normalized values are equal: Put of the
// value a key already holds is not a change.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return a == b
}
