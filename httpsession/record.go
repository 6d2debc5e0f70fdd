package httpsession

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tiersession/tiersession"
)

// The Data of a stored record is one of three kinds, told apart by its
// first byte (which doubles as the format version):
//
//	session        0x01  uvarint(created, Unix seconds)  codec payload
//	pointer        0x02  successor's storage key (tiersession.StorageKey form)
//	owned session  0x03  uvarint(created)  owner  meta  codec payload
//
// where, in an owned session, owner is uvarint(length) and the bytes of
// the owner SetOwner was given (the application's user id, in clear: Data
// is the session's content, sealed wherever the store seals), and meta is
// uvarint(entries), then per entry, by ascending key, uvarint(length) key
// uvarint(length) value.
//
// A session record holds what timeouts need: the creation time (for
// Lifetime) in Data, and the idle deadline as the record's ExpiresAt, which
// the store's Touch moves without rewriting Data. An owned session also
// holds its owner and meta, so that Renew can tie the record that takes
// over to the same owner: the store's own owner fields (a keyed hash of the
// owner, see Options.OwnerKey) are not in the records Get returns. A
// pointer record is what Renew leaves under the replaced token's key for
// RenewGrace: it names the session that took over, never a token.
const (
	kindSession byte = 0x01
	kindPointer byte = 0x02
	kindOwned   byte = 0x03
)

// maxOwnerLen bounds the owner SetOwner takes, in bytes.
const maxOwnerLen = 1024

// owned is the owner of a session and the meta shown with it by List; zero
// for a session without owner.
type owned struct {
	owner string
	meta  map[string]string
}

// maxHops bounds how many pointer records a load follows (one per Renew
// within RenewGrace); a longer chain is treated as no session.
const maxHops = 4

// parsed is a record's Data, decoded up to the codec payload.
type parsed struct {
	successor string    // pointer record: the key that took over
	created   time.Time // session record
	owned     owned     // owned session record
	payload   []byte    // session record: codec bytes (shares Data)
}

// parseRecord decodes the envelope of a record's Data.
func parseRecord(data []byte) (parsed, error) {
	if len(data) == 0 {
		return parsed{}, fmt.Errorf("%w: empty record", errCorrupt)
	}
	switch data[0] {
	case kindSession, kindOwned:
		sec, n := binary.Uvarint(data[1:])
		if n <= 0 || sec > 1<<40 {
			return parsed{}, fmt.Errorf("%w: bad creation time", errCorrupt)
		}
		p := parsed{created: time.Unix(int64(sec), 0), payload: data[1+n:]}
		if data[0] == kindOwned {
			var err error
			if p.owned, p.payload, err = parseOwned(p.payload); err != nil {
				return parsed{}, err
			}
		}
		return p, nil
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

// parseOwned decodes the owner and meta that start b, and returns the rest.
func parseOwned(b []byte) (owned, []byte, error) {
	bad := fmt.Errorf("%w: bad owner or meta", errCorrupt)
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var o owned
	var ok bool
	if o.owner, ok = str(); !ok || o.owner == "" || len(o.owner) > maxOwnerLen {
		return owned{}, nil, bad
	}
	entries, k := binary.Uvarint(b)
	if k <= 0 || entries > uint64(len(b)) {
		return owned{}, nil, bad
	}
	b = b[k:]
	if entries > 0 {
		o.meta = make(map[string]string, entries)
	}
	for range entries {
		key, ok1 := str()
		val, ok2 := str()
		if !ok1 || !ok2 {
			return owned{}, nil, bad
		}
		o.meta[key] = val
	}
	return o, b, nil
}

// sessionData builds a session record's Data: an owned session's if o has
// an owner.
func sessionData(created time.Time, o owned, payload []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload))
	kind := kindSession
	if o.owner != "" {
		kind = kindOwned
	}
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(max(created.Unix(), 0)))
	if o.owner != "" {
		b = binary.AppendUvarint(b, uint64(len(o.owner)))
		b = append(b, o.owner...)
		b = binary.AppendUvarint(b, uint64(len(o.meta)))
		for _, k := range slices.Sorted(maps.Keys(o.meta)) {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(o.meta[k])))
			b = append(b, o.meta[k]...)
		}
	}
	return append(b, payload...)
}

// pointerData builds a pointer record's Data.
func pointerData(successor string) []byte {
	return append([]byte{kindPointer}, successor...)
}

// encodeSession encodes values with the codec into a session record's
// Data, owned by o if it has an owner.
func (m *Manager) encodeSession(created time.Time, o owned, values map[string]any) ([]byte, error) {
	payload, err := m.opts.Codec.Encode(values)
	if err != nil {
		return nil, fmt.Errorf("httpsession: encoding the session: %w", err)
	}
	return sessionData(created, o, payload), nil
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
