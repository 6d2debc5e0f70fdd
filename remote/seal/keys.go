package seal

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tiersession/tiersession/remote"
)

// KeySize is the size of every key, in bytes: AES-256.
const KeySize = 32

// MaxKeyIDLen is the longest key id, in bytes. Ids travel in every sealed
// item's header, so short ones ("2026-03", "k7") are cheaper.
const MaxKeyIDLen = 64

// ErrUnknownKey is what a KeyProvider's DecryptionKey returns (wrapped or
// not) for an id it does not know. The Store reports an item sealed under
// such a key as remote.ErrCorrupt: no key it can get will open it. Any
// other DecryptionKey error is taken as the provider being unreachable
// (remote.ErrUnavailable).
var ErrUnknownKey = errors.New("seal: unknown key id")

// KeyProvider hands the Store its keys. A key id names one key forever:
// the Store writes the id into every item it seals and asks for that id's
// key to open the item again, possibly years later in another process.
//
// The Store calls EncryptionKey on every write and DecryptionKey on every
// read, with the request's context, so a provider backed by a key
// management service (KMS data keys, decrypted once and kept in memory)
// must cache: it is on the request path. Keyring is the in-process
// implementation. Implementations are safe for concurrent use; the Store
// neither keeps nor modifies the slices they return.
type KeyProvider interface {
	// EncryptionKey returns the primary key, which seals new items, and
	// its id (1 to MaxKeyIDLen bytes). The key is KeySize bytes.
	EncryptionKey(ctx context.Context) (id string, key []byte, err error)
	// DecryptionKey returns the key named id: the primary or an older key
	// that items may still be sealed with. An id the provider does not
	// know gives an error matching ErrUnknownKey.
	DecryptionKey(ctx context.Context, id string) (key []byte, err error)
}

// Key is one key of a Keyring.
type Key struct {
	// ID names the key in sealed items: 1 to MaxKeyIDLen printable ASCII
	// characters (no spaces). Never reuse an id for another secret.
	ID string
	// Secret is the key, KeySize random bytes (crypto/rand, or a KMS
	// data key). Keyring keeps its own copy.
	Secret []byte
}

// Keyring is a KeyProvider held in memory: one primary key that seals, and
// older keys that still open what they sealed. It is safe for concurrent
// use; Add, Rotate and Retire take effect for the next call of every Store
// using it.
//
// Rotating without downtime across several processes takes two steps,
// because a process must know a key before any other process seals with
// it:
//
//  1. Everywhere, Add the new key (it opens, it does not seal yet).
//  2. Once every process has it, Rotate to it everywhere. Items sealed with
//     the old primary keep opening; each is re-sealed with the new primary
//     on its next write.
//
// Retire the old key once no live item can be sealed with it: after the
// longest session lifetime has passed since step 2 (an item not written
// since then has expired). An item sealed with a retired key fails to open
// with remote.ErrCorrupt.
type Keyring struct {
	mu   sync.Mutex // serialises Add, Rotate and Retire
	ring atomic.Pointer[ring]
}

// ring is one immutable state of a Keyring.
type ring struct {
	primary string
	keys    map[string][]byte
}

var _ KeyProvider = (*Keyring)(nil)

// NewKeyring returns a keyring whose primary key is primary and which also
// opens items sealed with older. Ids must be unique; every secret KeySize
// bytes.
func NewKeyring(primary Key, older ...Key) (*Keyring, error) {
	r := &ring{primary: primary.ID, keys: make(map[string][]byte, 1+len(older))}
	for _, k := range append([]Key{primary}, older...) {
		if err := k.valid(); err != nil {
			return nil, err
		}
		if _, dup := r.keys[k.ID]; dup {
			return nil, fmt.Errorf("%w: seal: key id %q appears twice", remote.ErrInvalid, k.ID)
		}
		r.keys[k.ID] = bytes.Clone(k.Secret)
	}
	kr := new(Keyring)
	kr.ring.Store(r)
	return kr, nil
}

// valid checks a key's id and secret. The error never shows the secret.
func (k Key) valid() error {
	if k.ID == "" || len(k.ID) > MaxKeyIDLen {
		return fmt.Errorf("%w: seal: key id of %d bytes (want 1 to %d)", remote.ErrInvalid, len(k.ID), MaxKeyIDLen)
	}
	for i := 0; i < len(k.ID); i++ {
		if c := k.ID[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: seal: key id %q: only printable ASCII without spaces", remote.ErrInvalid, k.ID)
		}
	}
	if len(k.Secret) != KeySize {
		return fmt.Errorf("%w: seal: key %q is %d bytes (want %d)", remote.ErrInvalid, k.ID, len(k.Secret), KeySize)
	}
	return nil
}

// EncryptionKey implements KeyProvider.
func (kr *Keyring) EncryptionKey(context.Context) (string, []byte, error) {
	r := kr.ring.Load()
	return r.primary, r.keys[r.primary], nil
}

// DecryptionKey implements KeyProvider.
func (kr *Keyring) DecryptionKey(_ context.Context, id string) ([]byte, error) {
	if key, ok := kr.ring.Load().keys[id]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
}

// Primary returns the id of the primary key.
func (kr *Keyring) Primary() string { return kr.ring.Load().primary }

// IDs returns the ids of every key, the primary's included, sorted.
func (kr *Keyring) IDs() []string {
	r := kr.ring.Load()
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Add adds a key that opens items but does not seal them yet: step 1 of a
// rotation. Adding a key the ring already holds, with the same secret, is
// not an error; the same id with another secret is.
func (kr *Keyring) Add(k Key) error {
	return kr.update(func(r *ring) error { return r.add(k) })
}

// Rotate makes k the primary key (adding it if needed): new items are
// sealed with it, and the previous primary stays to open older items.
func (kr *Keyring) Rotate(k Key) error {
	return kr.update(func(r *ring) error {
		if err := r.add(k); err != nil {
			return err
		}
		r.primary = k.ID
		return nil
	})
}

// Retire removes the key named id: items sealed with it no longer open.
// The primary key cannot be retired (Rotate away from it first); an id the
// ring does not hold is not an error.
func (kr *Keyring) Retire(id string) error {
	return kr.update(func(r *ring) error {
		if id == r.primary {
			return fmt.Errorf("%w: seal: key %q is the primary key; rotate to another first", remote.ErrInvalid, id)
		}
		delete(r.keys, id)
		return nil
	})
}

// update applies change to a copy of the ring and installs the copy, so
// readers never see a half-made change.
func (kr *Keyring) update(change func(*ring) error) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	old := kr.ring.Load()
	r := &ring{primary: old.primary, keys: make(map[string][]byte, len(old.keys)+1)}
	for id, key := range old.keys {
		r.keys[id] = key // secrets are never modified, so sharing them is safe
	}
	if err := change(r); err != nil {
		return err
	}
	kr.ring.Store(r)
	return nil
}

func (r *ring) add(k Key) error {
	if err := k.valid(); err != nil {
		return err
	}
	if old, ok := r.keys[k.ID]; ok {
		if subtle.ConstantTimeCompare(old, k.Secret) != 1 {
			return fmt.Errorf("%w: seal: key id %q already names another key", remote.ErrInvalid, k.ID)
		}
		return nil
	}
	r.keys[k.ID] = bytes.Clone(k.Secret)
	return nil
}
