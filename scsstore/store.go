package scsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/scs/v2"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/tier"
)

// Backend is what a Store needs of the session store under it.
// *tier.Store implements it; tests and wrappers (tracing, fault
// injection) may implement it too, with tier.Store's contract.
type Backend interface {
	Get(ctx context.Context, key string) (tier.Record, bool, error)
	Create(ctx context.Context, rec tier.Record) (tier.Record, error)
	Save(ctx context.Context, rec tier.Record) (tier.Record, error)
	Update(ctx context.Context, key string, fn func(tier.Record) (tier.Record, error)) (tier.Record, error)
	Touch(ctx context.Context, key string, expiresAt time.Time) (tier.Record, error)
	Delete(ctx context.Context, key string, version uint64) error
}

var (
	_ Backend      = (*tier.Store)(nil)
	_ scs.Store    = (*Store)(nil)
	_ scs.CtxStore = (*Store)(nil)
)

// Errors the Store returns of its own; everything else comes from the
// Backend, wrapped, and matches tier's sentinels with errors.Is.
var (
	// ErrInvalidToken: Commit got a token scs cannot have generated (see
	// the package documentation). Nothing was written.
	ErrInvalidToken = errors.New("scsstore: malformed session token")
	// ErrBadOptions: NewWithOptions got options it cannot use.
	ErrBadOptions = errors.New("scsstore: bad options")
)

// MaxPrefixLen is the longest Options.Prefix, in bytes.
const MaxPrefixLen = 128

// Options configures a Store. The zero value of every field means its
// default.
type Options struct {
	// Codec decodes committed session data, so that a re-commit of an
	// unchanged session becomes a Touch. It must be the SessionManager's
	// Codec: with another one nothing decodes and every commit writes
	// (correct, but without the saving). Default: scs.GobCodec{}, scs's own
	// default.
	Codec scs.Codec
	// Prefix goes before every storage key, to keep applications that
	// share one table apart. It must be valid UTF-8 of at most
	// MaxPrefixLen bytes. Default: "", keys are tiersession.StorageKey
	// of the token, as package httpsession stores them.
	Prefix string
	// Now is the clock that tells whether a committed expiry has already
	// passed. Default: time.Now, the clock scs computes expiries with.
	Now func() time.Time
}

// Store is an scs.CtxStore over a tiersession store. It is safe for
// concurrent use. It owns nothing that needs closing; close the Backend
// when done.
type Store struct {
	backend Backend
	codec   scs.Codec
	prefix  string
	now     func() time.Time
	stats   counters
}

// New returns a Store over b with default options. It panics if b is nil.
func New(b Backend) *Store {
	s, err := NewWithOptions(b, Options{})
	if err != nil {
		panic(err)
	}
	return s
}

// NewWithOptions returns a Store over b configured by opts.
func NewWithOptions(b Backend, opts Options) (*Store, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil backend", ErrBadOptions)
	}
	if len(opts.Prefix) > MaxPrefixLen || !utf8.ValidString(opts.Prefix) {
		return nil, fmt.Errorf("%w: prefix must be valid UTF-8 of at most %d bytes", ErrBadOptions, MaxPrefixLen)
	}
	if opts.Codec == nil {
		opts.Codec = scs.GobCodec{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{backend: b, codec: opts.Codec, prefix: opts.Prefix, now: opts.Now}, nil
}

// storageKey returns the key the session of token is stored under, or
// false for a token scs cannot have generated.
func (s *Store) storageKey(token string) (string, bool) {
	if !tiersession.ValidToken(token) {
		s.stats.refused.Add(1)
		return "", false
	}
	return s.prefix + tiersession.StorageKey(token), true
}

// FindCtx returns the data of the session of token. found is false, with
// a nil error, when there is none, when it has expired, and when token is
// malformed (without any request). The returned bytes are the caller's.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	key, ok := s.storageKey(token)
	if !ok {
		return nil, false, nil
	}
	rec, found, err := s.backend.Get(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("scsstore: find: %w", err)
	}
	if !found {
		return nil, false, nil
	}
	// The record's Data is shared with the local tier: hand out a copy,
	// so that no codec or caller can change the cached session.
	return bytes.Clone(rec.Data), true, nil
}

// DeleteCtx removes the session of token, whatever its version: through
// scs a delete is unconditional. Deleting an absent session, or a
// malformed token, is not an error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	key, ok := s.storageKey(token)
	if !ok {
		return nil
	}
	if err := s.backend.Delete(ctx, key, 0); err != nil {
		return fmt.Errorf("scsstore: delete: %w", err)
	}
	return nil
}

// Find is FindCtx with context.Background, for scs versions and callers
// that do not pass a context.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx with context.Background.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx with context.Background.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// Stats counts what a Store did with the commits scs sent it.
type Stats struct {
	// Commits is the number of CommitCtx calls.
	Commits uint64
	// Writes counts commits that wrote session data (a create or a
	// versioned save): new sessions and changed ones.
	Writes uint64
	// Touches counts commits of unchanged data turned into a Touch. The
	// Backend may answer a Touch without any request (see
	// tier.Options.TouchInterval and tier Stats.TouchSkipped).
	Touches uint64
	// Expired counts commits whose expiry had passed, turned into a
	// delete.
	Expired uint64
	// Retries counts commit attempts started over because the session
	// appeared or vanished between the read and the write.
	Retries uint64
	// Undecodable counts commits whose data, or the stored data, the
	// Codec could not decode, so that they were written unexamined.
	Undecodable uint64
	// Refused counts malformed tokens refused without a request, by Find,
	// Delete and Commit.
	Refused uint64
}

// counters are a Store's Stats as they run.
type counters struct {
	commits, writes, touches, expired atomic.Uint64
	retries, undecodable, refused     atomic.Uint64
}

// Stats returns the Store's counters now.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:     s.stats.commits.Load(),
		Writes:      s.stats.writes.Load(),
		Touches:     s.stats.touches.Load(),
		Expired:     s.stats.expired.Load(),
		Retries:     s.stats.retries.Load(),
		Undecodable: s.stats.undecodable.Load(),
		Refused:     s.stats.refused.Load(),
	}
}
