package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// Meter wraps a remote.Store and counts the requests that reach it.
// Counting here, rather than asking each system, gives the same exact
// figures for every system that uses the remote: "remote only" and the
// tiered stores alike.
//
// A Meter is safe for concurrent use.
type Meter struct {
	inner remote.Store

	reads     atomic.Int64
	writes    atomic.Int64
	conflicts atomic.Int64
}

var _ remote.Store = (*Meter)(nil)

// NewMeter wraps inner.
func NewMeter(inner remote.Store) *Meter {
	return &Meter{inner: inner}
}

// RemoteCounts are the requests a Meter has passed on to its store.
type RemoteCounts struct {
	// Reads counts Get calls.
	Reads int64
	// Writes counts Create, Put, Delete and Touch calls, successful or
	// not: DynamoDB charges a failed conditional write like a write.
	Writes int64
	// Conflicts counts writes that failed their version check.
	Conflicts int64
}

// sub returns c - o, field by field.
func (c RemoteCounts) sub(o RemoteCounts) RemoteCounts {
	return RemoteCounts{Reads: c.Reads - o.Reads, Writes: c.Writes - o.Writes, Conflicts: c.Conflicts - o.Conflicts}
}

// Counts returns the requests seen so far.
func (m *Meter) Counts() RemoteCounts {
	return RemoteCounts{Reads: m.reads.Load(), Writes: m.writes.Load(), Conflicts: m.conflicts.Load()}
}

// wrote counts one write and whether it hit a version conflict.
func (m *Meter) wrote(err error) {
	m.writes.Add(1)
	if errors.Is(err, remote.ErrConflict) {
		m.conflicts.Add(1)
	}
}

// Get reads through to the wrapped store.
func (m *Meter) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	m.reads.Add(1)
	return m.inner.Get(ctx, key)
}

// Create writes through to the wrapped store.
func (m *Meter) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	out, err := m.inner.Create(ctx, rec)
	m.wrote(err)
	return out, err
}

// Put writes through to the wrapped store.
func (m *Meter) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	out, err := m.inner.Put(ctx, rec, expected)
	m.wrote(err)
	return out, err
}

// Delete writes through to the wrapped store.
func (m *Meter) Delete(ctx context.Context, key string, expected uint64) error {
	err := m.inner.Delete(ctx, key, expected)
	m.wrote(err)
	return err
}

// Touch writes through to the wrapped store.
func (m *Meter) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	out, err := m.inner.Touch(ctx, key, expiresAt)
	m.wrote(err)
	return out, err
}
