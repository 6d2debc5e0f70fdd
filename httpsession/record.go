package httpsession

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tiersession/tiersession"
)

// The Data of a stored record is one of two kinds, told apart by its first
// byte (which doubles as the format version):
//
//	session  0x01  uvarint(created, Unix seconds)  codec payload
//	pointer  0x02  successor's storage key (tiersession.StorageKey form)
//
// A session record holds what timeouts need: the creation time (for
// Lifetime) in Data, and the idle deadline as the record's ExpiresAt, which
// the store's Touch moves without rewriting Data. A pointer record is what
// Renew leaves under the replaced token's key for RenewGrace: it names the
// session that took over, never a token.
const (
	kindSession byte = 0x01
	kindPointer byte = 0x02
)

// maxHops bounds how many pointer records a load follows (one per Renew
// within RenewGrace); a longer chain is treated as no session.
const maxHops = 4

// parsed is a record's Data, decoded up to the codec payload.
type parsed struct {
	successor string    // pointer record: the key that took over
	created   time.Time // session record
	payload   []byte    // session record: codec bytes (shares Data)
}

// parseRecord decodes the envelope of a record's Data.
func parseRecord(data []byte) (parsed, error) {
	if len(data) == 0 {
		return parsed{}, fmt.Errorf("%w: empty record", errCorrupt)
	}
	switch data[0] {
	case kindSession:
		sec, n := binary.Uvarint(data[1:])
		if n <= 0 || sec > 1<<40 {
			return parsed{}, fmt.Errorf("%w: bad creation time", errCorrupt)
		}
		return parsed{created: time.Unix(int64(sec), 0), payload: data[1+n:]}, nil
	case kindPointer:
		succ := string(data[1:])
		if !tiersession.ValidToken(succ) {
			// A storage key has the same form as a token (base64url of 32
			// bytes), so ValidToken checks it without reading anything.
			return parsed{}, fmt.Errorf("%w: bad pointer", errCorrupt)
		}
		return parsed{successor: succ}, nil
	}
	return parsed{}, fmt.Errorf("%w: unknown record kind %#x", errCorrupt, data[0])
}

// sessionData builds a session record's Data.
func sessionData(created time.Time, payload []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload))
	b = append(b, kindSession)
	b = binary.AppendUvarint(b, uint64(max(created.Unix(), 0)))
	return append(b, payload...)
}

// pointerData builds a pointer record's Data.
func pointerData(successor string) []byte {
	return append([]byte{kindPointer}, successor...)
}

// encodeSession encodes values with the codec into a session record's
// Data.
func (m *Manager) encodeSession(created time.Time, values map[string]any) ([]byte, error) {
	payload, err := m.opts.Codec.Encode(values)
	if err != nil {
		return nil, fmt.Errorf("httpsession: encoding the session: %w", err)
	}
	return sessionData(created, payload), nil
}

// decodeValues decodes a session record's payload.
func (m *Manager) decodeValues(payload []byte) (map[string]any, error) {
	values, err := m.opts.Codec.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if err := checkDecoded(values); err != nil {
		return nil, err
	}
	if values == nil {
		values = map[string]any{}
	}
	return values, nil
}

// deadline is when a session created at created ends if it sees no
// request after now: now+IdleTimeout, rounded up to the store's whole
// seconds, but never past created+Lifetime.
func (m *Manager) deadline(created, now time.Time) time.Time {
	idle := ceilSecond(now.Add(m.opts.IdleTimeout))
	if end := created.Add(m.opts.Lifetime); end.Before(idle) {
		return end
	}
	return idle
}

// live reports whether a session created at created, whose record expires
// at expiresAt, may be served at now. The store already hides records past
// ExpiresAt; the Lifetime is checked here as well, so a record written
// under a longer Lifetime, or one whose expiry the store has not caught up
// with, is never served.
func (m *Manager) live(created, expiresAt, now time.Time) bool {
	return expiresAt.After(now) && created.Add(m.opts.Lifetime).After(now)
}

// ceilSecond rounds t up to a whole second: the store keeps expiries in
// whole seconds, rounded down, and an expiry must stay in the future.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
