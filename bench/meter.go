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
// A Meter offers GetConsistent (remote.ConsistentGetter) whatever the
// store it wraps, as the DynamoDB remote does: a tier.Store then reloads
// a session after a conflict with a strongly consistent read, as it would
// in production, and the Meter counts those reads apart, since DynamoDB
// bills them at twice the read units.
//
// A Meter is safe for concurrent use.
type Meter struct {
	inner remote.Store

	reads           atomic.Int64
	consistentReads atomic.Int64
	writes          atomic.Int64
	conflicts       atomic.Int64
	absent          atomic.Int64
}

var (
	_ remote.Store            = (*Meter)(nil)
	_ remote.ConsistentGetter = (*Meter)(nil)
)

// NewMeter wraps inner.
func NewMeter(inner remote.Store) *Meter {
	return &Meter{inner: inner}
}

// RemoteCounts are the requests a Meter has passed on to its store.
type RemoteCounts struct {
	// Reads counts Get calls.
	Reads int64
	// ConsistentReads counts GetConsistent calls: the strongly
	// consistent reads a tier.Store makes to reload a session after a
	// version conflict.
	ConsistentReads int64
	// Writes counts Create, Put, Delete and Touch calls, whatever their
	// outcome: DynamoDB bills a conditional write whose check fails too.
	Writes int64
	// Conflicts counts the writes among Writes that failed their version
	// check on an item that exists. DynamoDB bills each like a write of
	// the item already stored.
	Conflicts int64
	// Absent counts the writes among Writes refused because the item did
	// not exist (a Put or Touch of a missing or expired session).
	// DynamoDB bills each the minimum, one write unit.
	Absent int64
}

// sub returns c - o, field by field.
func (c RemoteCounts) sub(o RemoteCounts) RemoteCounts {
	return RemoteCounts{
		Reads: c.Reads - o.Reads, ConsistentReads: c.ConsistentReads - o.ConsistentReads,
		Writes: c.Writes - o.Writes, Conflicts: c.Conflicts - o.Conflicts, Absent: c.Absent - o.Absent,
	}
}

// AllReads is Reads plus ConsistentReads.
func (c RemoteCounts) AllReads() int64 { return c.Reads + c.ConsistentReads }

// Refused is the writes refused by their condition: Conflicts plus
// Absent.
func (c RemoteCounts) Refused() int64 { return c.Conflicts + c.Absent }

// Counts returns the requests seen so far.
func (m *Meter) Counts() RemoteCounts {
	return RemoteCounts{
		Reads: m.reads.Load(), ConsistentReads: m.consistentReads.Load(),
		Writes: m.writes.Load(), Conflicts: m.conflicts.Load(), Absent: m.absent.Load(),
	}
}

// wrote counts one write and how its condition fared.
func (m *Meter) wrote(err error) {
	m.writes.Add(1)
	var ce *remote.ConflictError
	switch {
	case errors.As(err, &ce) && ce.Current == 0, errors.Is(err, remote.ErrNotFound):
		m.absent.Add(1)
	case errors.Is(err, remote.ErrConflict):
		m.conflicts.Add(1)
	}
}

// Get reads through to the wrapped store.
func (m *Meter) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	m.reads.Add(1)
	return m.inner.Get(ctx, key)
}

// GetConsistent reads through to the wrapped store's GetConsistent, or
// its Get when it has none (its reads are then current already).
func (m *Meter) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	m.consistentReads.Add(1)
	if cg, ok := m.inner.(remote.ConsistentGetter); ok {
		return cg.GetConsistent(ctx, key)
	}
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
