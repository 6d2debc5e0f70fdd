package seal

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// DefaultCompressAbove is Options.CompressAbove's default, in bytes. Below
// it zstd rarely saves a DynamoDB write unit (they are billed per started
// KB) and its frame header eats into what it saves.
const DefaultCompressAbove = 512

// Options configures New. The zero value compresses and does not encrypt.
type Options struct {
	// Keys turns on encryption: every item is sealed with Keys' primary
	// key, and opened with the key its header names. Default nil: no
	// encryption; items are compressed only, and an encrypted item fails
	// to open with remote.ErrCorrupt.
	Keys KeyProvider
	// DisableCompression stores Data uncompressed. Default false: Data
	// longer than CompressAbove bytes is compressed with zstd (and stored
	// uncompressed if that does not make it smaller). Compressing before
	// encrypting lets the sealed size depend on the content; see doc.go.
	DisableCompression bool
	// CompressAbove is the size in bytes above which Data is compressed.
	// Default 0 means DefaultCompressAbove; negative is invalid.
	CompressAbove int
	// AllowPlaintext makes reads accept items that are not encrypted:
	// Data without the sealed header (items written before sealing was
	// turned on), returned as stored, and, when Keys is set, sealed items
	// written without encryption. Default false: such items fail with
	// remote.ErrCorrupt, since with encryption on, accepting them would
	// let anyone who can write to the table plant a session no key vouches
	// for. Turn it on for the migration to sealing and off once every
	// unsealed item has been rewritten or has expired. Writes always seal.
	AllowPlaintext bool
}

// Store seals the Data of every record it writes to an inner remote.Store
// and opens the Data of every record it reads; see the package comment.
// It is safe for concurrent use, starts no goroutines and needs no Close.
type Store struct {
	inner          remote.Store
	consistent     remote.ConsistentGetter // inner's, or nil
	owners         remote.Owners           // inner's, or nil (owners.go)
	keys           KeyProvider
	compressAbove  int // negative: never
	allowPlaintext bool
	codec          *zstdCodec

	stats struct {
		sealed, compressed, dataBytes, sealedBytes atomic.Uint64
		opened, plaintext, corrupt                 atomic.Uint64
	}
}

var (
	_ remote.Store            = (*Store)(nil)
	_ remote.ConsistentGetter = (*Store)(nil)
	_ remote.Owners           = (*Store)(nil)
)

// New returns a Store that seals records on their way to inner and opens
// them on their way back. It makes no request. It fails with
// remote.ErrInvalid when inner is nil, CompressAbove is negative, or the
// options turn off both compression and encryption (there would be
// nothing to seal).
func New(inner remote.Store, opts Options) (*Store, error) {
	switch {
	case inner == nil:
		return nil, fmt.Errorf("%w: seal: nil inner store", remote.ErrInvalid)
	case opts.CompressAbove < 0:
		return nil, fmt.Errorf("%w: seal: negative CompressAbove %d", remote.ErrInvalid, opts.CompressAbove)
	case opts.DisableCompression && opts.Keys == nil:
		return nil, fmt.Errorf("%w: seal: neither compression nor encryption (Keys) is on", remote.ErrInvalid)
	}
	c, err := codec()
	if err != nil {
		return nil, fmt.Errorf("seal: zstd: %w", err)
	}
	s := &Store{
		inner:          inner,
		keys:           opts.Keys,
		compressAbove:  opts.CompressAbove,
		allowPlaintext: opts.AllowPlaintext,
		codec:          c,
	}
	if s.compressAbove == 0 {
		s.compressAbove = DefaultCompressAbove
	}
	if opts.DisableCompression {
		s.compressAbove = -1
	}
	s.consistent, _ = inner.(remote.ConsistentGetter)
	s.owners, _ = inner.(remote.Owners)
	return s, nil
}

// Stats counts what a Store has sealed and opened since New.
type Stats struct {
	// Sealed counts records sealed for a write (Create, Put), whether or
	// not the write then succeeded; Compressed counts those stored
	// compressed.
	Sealed, Compressed uint64
	// DataBytes and SealedBytes add up the sizes of the Data sealed and of
	// the sealed bytes: SealedBytes/DataBytes is the size after sealing.
	DataBytes, SealedBytes uint64
	// Opened counts records opened (Get, GetConsistent, Touch, List);
	// Plaintext counts those accepted unencrypted because of
	// AllowPlaintext.
	Opened, Plaintext uint64
	// Corrupt counts items that failed to open, each reported as
	// remote.ErrCorrupt: altered, moved to another key or version, sealed
	// with an unknown key, or unsealed without AllowPlaintext. Items the
	// inner store itself reports as corrupt are not counted.
	Corrupt uint64
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Sealed:      s.stats.sealed.Load(),
		Compressed:  s.stats.compressed.Load(),
		DataBytes:   s.stats.dataBytes.Load(),
		SealedBytes: s.stats.sealedBytes.Load(),
		Opened:      s.stats.opened.Load(),
		Plaintext:   s.stats.plaintext.Load(),
		Corrupt:     s.stats.corrupt.Load(),
	}
}

// Get implements remote.Store: the inner store's Get, opened.
func (s *Store) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	return s.opened(ctx, s.inner.Get, key)
}

// GetConsistent implements remote.ConsistentGetter with the inner store's
// GetConsistent. An inner store without one is read with its Get:
// remote.ConsistentGetter is the ability of stores whose Get may be out of
// date, so one that lacks it is taken to be current.
func (s *Store) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	if s.consistent == nil {
		return s.Get(ctx, key)
	}
	return s.opened(ctx, s.consistent.GetConsistent, key)
}

func (s *Store) opened(ctx context.Context, get func(context.Context, string) (remote.Record, bool, error), key string) (remote.Record, bool, error) {
	rec, found, err := get(ctx, key)
	if err != nil || !found {
		return remote.Record{}, false, err
	}
	rec, err = s.open(ctx, rec)
	if err != nil {
		return remote.Record{}, false, err
	}
	return rec, true, nil
}

// Create implements remote.Store. The record is sealed for version 1.
func (s *Store) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	return s.write(ctx, rec, 0)
}

// Put implements remote.Store. The record is sealed for version
// expected+1, the version it will have once written.
func (s *Store) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	if expected == 0 {
		return remote.Record{}, fmt.Errorf("%w: seal: Put with expected version 0 (use Create)", remote.ErrInvalid)
	}
	return s.write(ctx, rec, expected)
}

// write is Create (expected 0) and Put. The ciphertext is bound to the
// version the record will have after the write: 1 for Create, expected+1
// for Put (remote.Store's contract fixes both). A write that fails leaves
// no ciphertext behind, and one whose outcome the inner store settles
// after a lost response stored exactly these bytes at that version.
//
// Only Data is sealed: the owner fields (Owner, Meta; CreatedAt and
// Generation, which the inner store sets) go to the inner store as given
// and come back as it returns them.
func (s *Store) write(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	if err := remote.ValidKey(rec.Key); err != nil {
		return remote.Record{}, err
	}
	if expected == 0 {
		if err := s.checkOwner(rec); err != nil {
			return remote.Record{}, err
		}
	}
	// Data is limited as on any Store, before sealing; the inner store then
	// checks that the sealed item fits too.
	if err := checkSize(rec, expected); err != nil {
		return remote.Record{}, err
	}
	sealed, err := s.seal(ctx, rec.Key, expected+1, rec.Data)
	if err != nil {
		return remote.Record{}, err
	}
	if expected != 0 {
		if err := s.checkStoredOwner(ctx, rec, len(sealed)); err != nil {
			return remote.Record{}, err
		}
	}
	in := rec
	in.Data = sealed
	var out remote.Record
	if expected == 0 {
		out, err = s.inner.Create(ctx, in)
	} else {
		out, err = s.inner.Put(ctx, in, expected)
	}
	if errors.Is(err, remote.ErrTooLarge) {
		return remote.Record{}, fmt.Errorf("seal: %d bytes of Data sealed to %d: %w", len(rec.Data), len(sealed), err)
	}
	if err != nil {
		return remote.Record{}, err
	}
	out.Data = append([]byte{}, rec.Data...)
	return out, nil
}

// Delete implements remote.Store: the inner store's Delete.
func (s *Store) Delete(ctx context.Context, key string, expected uint64) error {
	return s.inner.Delete(ctx, key, expected)
}

// Touch implements remote.Store. Touch changes neither Data nor Version, so
// the stored bytes stay sealed as they are; the record returned is opened.
// If it fails to open, the expiry was still extended.
func (s *Store) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	rec, err := s.inner.Touch(ctx, key, expiresAt)
	if err != nil {
		return remote.Record{}, err
	}
	return s.open(ctx, rec)
}

// seal returns the sealed form of data, stored under key at version.
func (s *Store) seal(ctx context.Context, key string, version uint64, data []byte) ([]byte, error) {
	payload, flags := data, byte(0)
	if s.compressAbove >= 0 && len(data) > s.compressAbove {
		if packed := s.codec.compress(nil, data); len(packed) < len(data) {
			payload, flags = packed, flagZstd
		}
	}
	var sealed []byte
	if s.keys == nil {
		sealed = append(appendHeader(make([]byte, 0, fixedHeaderLen+len(payload)), flags, ""), payload...)
	} else {
		id, secret, err := s.keys.EncryptionKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: seal: encryption key: %w", remote.ErrUnavailable, err)
		}
		if id == "" || len(id) > MaxKeyIDLen || len(secret) != KeySize {
			return nil, fmt.Errorf("%w: seal: the key provider's encryption key %q has an id of %d bytes (want 1 to %d) and %d bytes (want %d)",
				remote.ErrUnavailable, id, len(id), MaxKeyIDLen, len(secret), KeySize)
		}
		header := appendHeader(make([]byte, 0, Overhead(len(id))+len(payload)), flags, id)
		sealed, err = sealPayload(header, secret, payload, version, key)
		if err != nil {
			return nil, fmt.Errorf("%w: seal: %w", remote.ErrUnavailable, err)
		}
	}
	s.stats.sealed.Add(1)
	if flags&flagZstd != 0 {
		s.stats.compressed.Add(1)
	}
	s.stats.dataBytes.Add(uint64(len(data)))
	s.stats.sealedBytes.Add(uint64(len(sealed)))
	return sealed, nil
}

// open replaces rec.Data, as the inner store returned it, with what it
// seals. Failures to open match remote.ErrCorrupt and are counted; a key
// provider that fails gives remote.ErrUnavailable.
func (s *Store) open(ctx context.Context, rec remote.Record) (remote.Record, error) {
	data, err := s.unseal(ctx, rec)
	if err != nil {
		if errors.Is(err, remote.ErrCorrupt) {
			s.stats.corrupt.Add(1)
		}
		return remote.Record{}, err
	}
	s.stats.opened.Add(1)
	rec.Data = data
	return rec, nil
}

func (s *Store) unseal(ctx context.Context, rec remote.Record) ([]byte, error) {
	b := rec.Data // the inner store's copy: ours to decrypt in place
	if len(b) == 0 || b[0] != magic {
		if !s.allowPlaintext {
			return nil, corrupt(errors.New("the item is not sealed (written before sealing was turned on? see Options.AllowPlaintext)"))
		}
		s.stats.plaintext.Add(1)
		return nonNil(b), nil
	}
	e, err := parse(b)
	if err != nil {
		return nil, corrupt(err)
	}
	payload := e.body
	if e.flags&flagEncrypted == 0 {
		if s.keys != nil {
			if !s.allowPlaintext {
				return nil, corrupt(errors.New("the item is not encrypted (see Options.AllowPlaintext)"))
			}
			s.stats.plaintext.Add(1)
		}
	} else {
		if s.keys == nil {
			return nil, corrupt(fmt.Errorf("the item is encrypted under key %q and the Store has no Keys", e.keyID))
		}
		secret, err := s.keys.DecryptionKey(ctx, e.keyID)
		switch {
		case errors.Is(err, ErrUnknownKey):
			return nil, fmt.Errorf("%w: %w", remote.ErrCorrupt, err)
		case err != nil:
			return nil, fmt.Errorf("%w: seal: decryption key %q: %w", remote.ErrUnavailable, e.keyID, err)
		case len(secret) != KeySize:
			return nil, fmt.Errorf("%w: seal: the key provider's key %q is %d bytes (want %d)", remote.ErrUnavailable, e.keyID, len(secret), KeySize)
		}
		if payload, err = openPayload(e, secret, rec.Version, rec.Key); err != nil {
			return nil, corrupt(err)
		}
	}
	if e.flags&flagZstd != 0 {
		if payload, err = s.codec.decompress(payload, remote.MaxDataSize(rec.Key)); err != nil {
			return nil, corrupt(err)
		}
	}
	return nonNil(payload), nil
}

// nonNil returns b, or an empty slice for nil: a found record's Data is
// never nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
