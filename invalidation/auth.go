package invalidation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// Limits on a Key.
const (
	// MinSecretLen is the shortest Key.Secret NewRedis accepts, in bytes:
	// the output size of SHA-256. Generate secrets with crypto/rand.
	MinSecretLen = 32
	// MaxKeyIDLen is the longest Key.ID, in bytes. The id travels in clear
	// in every message.
	MaxKeyIDLen = 64
)

// Key authenticates the messages of a networked bus with HMAC-SHA256.
// Every node of a deployment must know the key its peers sign with; the
// ID tells a receiver which key a message was signed with, so that keys
// can be rotated without downtime (see RedisOptions.Keys).
type Key struct {
	// ID names the key on the wire: 1 to MaxKeyIDLen bytes, unique among
	// the keys of one bus. It is not secret; a date ("2025-06") will do.
	ID string
	// Secret is the HMAC key: at least MinSecretLen bytes, secret, and
	// random (crypto/rand), not a password.
	Secret []byte
}

// signedFormat is the first byte of an authenticated message (formatVersion
// starts an unsigned one). The layout:
//
//	byte     signedFormat (2)
//	byte     length of the key id (1 to MaxKeyIDLen), then the key id
//	bytes    the event in the unsigned wire format (MarshalBinary)
//	32 bytes HMAC-SHA256 of everything before it, keyed with the secret
//	         of that key id and prefixed with macContext and the channel
//
// A Changed event for a 43-byte key and origin "node-a", signed with key
// id "k1", takes 1+1+2+53+32 = 89 bytes.
const signedFormat = 2

// macContext starts every MAC input, so that these MACs cannot be confused
// with those of another protocol that happens to share the secret.
const macContext = "tiersession/invalidation/v1\x00"

// errUnauthenticated marks a message dropped because it is not signed by a
// known key. It is counted in Stats.AuthFailures, never returned.
var errUnauthenticated = errors.New("invalidation: message not authenticated")

// keyring holds a bus's keys, checked and copied, and what every MAC on
// its channel starts with. It is immutable and shared; signers and
// verifiers hold the per-goroutine HMAC state.
type keyring struct {
	keys     []Key  // keys[0] signs; nil when the bus has none
	insecure bool   // accept messages without checking any MAC
	prefix   []byte // macContext, uvarint length of the channel, channel
}

// newKeyring checks keys and copies them, so that a caller changing its
// slices later changes nothing.
func newKeyring(keys []Key, insecure bool, channel string) (*keyring, error) {
	if len(keys) == 0 && !insecure {
		return nil, errors.New("invalidation: NewRedis: no RedisOptions.Keys; " +
			"set Insecure to run without message authentication")
	}
	seen := make(map[string]bool, len(keys))
	kr := &keyring{insecure: insecure}
	for i, k := range keys {
		switch {
		case k.ID == "" || len(k.ID) > MaxKeyIDLen:
			return nil, fmt.Errorf("invalidation: NewRedis: Keys[%d]: ID of %d bytes, want 1 to %d", i, len(k.ID), MaxKeyIDLen)
		case seen[k.ID]:
			return nil, fmt.Errorf("invalidation: NewRedis: Keys[%d]: duplicate ID %q", i, k.ID)
		case len(k.Secret) < MinSecretLen:
			return nil, fmt.Errorf("invalidation: NewRedis: Keys[%d] (ID %q): secret of %d bytes, want at least %d", i, k.ID, len(k.Secret), MinSecretLen)
		}
		seen[k.ID] = true
		kr.keys = append(kr.keys, Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)})
	}
	kr.prefix = append([]byte(macContext), binary.AppendUvarint(nil, uint64(len(channel)))...)
	kr.prefix = append(kr.prefix, channel...)
	return kr, nil
}

// signer seals events for one goroutine (the publisher's).
type signer struct {
	kr  *keyring
	mac hash.Hash // nil: messages go unsigned
}

// newSigner returns a signer with the first key, or one that does not
// sign when the keyring has no key.
func (kr *keyring) newSigner() *signer {
	s := &signer{kr: kr}
	if len(kr.keys) > 0 {
		s.mac = hmac.New(sha256.New, kr.keys[0].Secret)
	}
	return s
}

// appendMessage appends the message carrying e to b: signed with the
// first key, or the bare event encoding when there is none. On error
// (e invalid) it returns b unchanged.
func (s *signer) appendMessage(b []byte, e Event) ([]byte, error) {
	if s.mac == nil {
		return e.AppendBinary(b)
	}
	start := len(b)
	id := s.kr.keys[0].ID
	b = append(b, signedFormat, byte(len(id)))
	b = append(b, id...)
	b, err := e.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	s.mac.Reset()
	s.mac.Write(s.kr.prefix)
	s.mac.Write(b[start:])
	return s.mac.Sum(b), nil
}

// verifier opens messages for one goroutine (a subscription's receive
// loop).
type verifier struct {
	kr   *keyring
	macs map[string]hash.Hash // by key id
	buf  []byte               // scratch: the signed part of a message, and a MAC
}

// newVerifier returns a verifier that accepts messages signed by any of
// the keyring's keys.
func (kr *keyring) newVerifier() *verifier {
	v := &verifier{kr: kr, macs: make(map[string]hash.Hash, len(kr.keys))}
	for _, k := range kr.keys {
		v.macs[k.ID] = hmac.New(sha256.New, k.Secret)
	}
	return v
}

// open checks and decodes one message. It returns an error matching
// ErrCorrupt for a message that does not parse, and errUnauthenticated for
// one that parses but is unsigned (unless the bus is insecure), signed
// with an unknown key id or carries a wrong MAC. Key and Origin share the
// memory of p.
//
// A signed message's MAC is checked before its event is decoded, so a
// forgery costs one HMAC and is parsed no further. An unsigned message is
// decoded only to count it as garbage (ErrCorrupt) or as a well-formed
// forgery (errUnauthenticated).
//
// A verified message may still be a replay: anyone who can read the
// channel can PUBLISH a captured message again, later or many times.
// That is harmless enough to leave unchecked: the replayed event evicts
// local copies older than a version that was already written (which
// other nodes already evicted when the genuine message arrived), or drops
// a copy of a session that was deleted or touched; either costs at most one
// reload from the source of truth, never a stale or wrong read, and never
// a purge. Replay protection would need per-publisher sequence state for
// no gain in correctness.
func (v *verifier) open(p string) (Event, error) {
	if len(p) == 0 {
		return Event{}, fmt.Errorf("%w: empty message", ErrCorrupt)
	}
	if p[0] != signedFormat {
		if !v.kr.insecure {
			if _, err := decodeEvent(p); err != nil {
				return Event{}, err
			}
			return Event{}, fmt.Errorf("%w: unsigned message", errUnauthenticated)
		}
		return decodeEvent(p)
	}
	if len(p) < 2 {
		return Event{}, fmt.Errorf("%w: signed message of %d bytes, too short", ErrCorrupt, len(p))
	}
	idLen := int(p[1])
	if idLen == 0 || idLen > MaxKeyIDLen || len(p) < 2+idLen+2+sha256.Size {
		return Event{}, fmt.Errorf("%w: signed message of %d bytes with a key id of %d bytes", ErrCorrupt, len(p), idLen)
	}
	id := p[2 : 2+idLen]
	signed, sum := p[:len(p)-sha256.Size], p[len(p)-sha256.Size:]
	event := signed[2+idLen:]
	if v.kr.insecure {
		return decodeEvent(event)
	}
	mac, ok := v.macs[id]
	if !ok {
		return Event{}, fmt.Errorf("%w: unknown key id %q", errUnauthenticated, id)
	}
	// go-redis hands over strings; copying into buf spares an allocation
	// per message. buf then holds the received MAC and the computed one.
	mac.Reset()
	mac.Write(v.kr.prefix)
	v.buf = append(v.buf[:0], signed...)
	mac.Write(v.buf)
	v.buf = mac.Sum(append(v.buf[:0], sum...))
	if !hmac.Equal(v.buf[:sha256.Size], v.buf[sha256.Size:]) {
		return Event{}, fmt.Errorf("%w: bad MAC for key id %q", errUnauthenticated, id)
	}
	return decodeEvent(event)
}
