package bench

import (
	"context"
	"errors"
	"sync"
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
// A Meter also marks the request a read belongs to (markRemoteRead), for
// the report's latency by request class.
//
// A Meter is safe for concurrent use.
type Meter struct {
	inner remote.Store

	reads           atomic.Int64
	consistentReads atomic.Int64
	writes          atomic.Int64
	conflicts       atomic.Int64
	absent          atomic.Int64

	// With sizing (NewSizingMeter): the request units billed so far,
	// reads in half units, and the stored size of each item.
	sizing      bool
	consistent  bool
	halfRRU     atomic.Int64
	wru         atomic.Int64
	billedBytes atomic.Int64
	billedItems atomic.Int64
	sizes       sync.Map // storage key -> ItemSize of the stored item
}

var (
	_ remote.Store            = (*Meter)(nil)
	_ remote.ConsistentGetter = (*Meter)(nil)
)

// NewMeter wraps inner.
func NewMeter(inner remote.Store) *Meter {
	return &Meter{inner: inner}
}

// NewSizingMeter wraps inner like NewMeter and also bills every request,
// as DynamoDB does, by the size of the item it reads or writes, as the
// bytes that reach inner measure it (so below a seal.Store it bills sealed
// items): RemoteCounts.Sized is then set and CostModel.Bill uses the
// measured units instead of one fixed item size. consistent tells whether
// inner's Get is a strongly consistent read. A write is billed by the
// larger of the item before and after it, a refused one by the item stored
// (1 WRU when there is none); the size before is the one this Meter last
// saw written or read, so every write to inner must go through it.
func NewSizingMeter(inner remote.Store, consistent bool) *Meter {
	return &Meter{inner: inner, sizing: true, consistent: consistent}
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

	// Sized is set by a NewSizingMeter, which fills in the fields below.
	Sized bool
	// ReadUnits and WriteUnits are the request units billed for the
	// requests counted, by the size of each item.
	ReadUnits, WriteUnits float64
	// BilledBytes adds up the sizes of the items read (when found) and
	// written (when stored); BilledItems counts them.
	BilledBytes, BilledItems int64
}

// AvgItemBytes is BilledBytes / BilledItems: the mean size of the items
// read and written, 0 when none was.
func (c RemoteCounts) AvgItemBytes() float64 {
	if c.BilledItems == 0 {
		return 0
	}
	return float64(c.BilledBytes) / float64(c.BilledItems)
}

// sub returns c - o, field by field.
func (c RemoteCounts) sub(o RemoteCounts) RemoteCounts {
	return RemoteCounts{
		Reads: c.Reads - o.Reads, ConsistentReads: c.ConsistentReads - o.ConsistentReads,
		Writes: c.Writes - o.Writes, Conflicts: c.Conflicts - o.Conflicts, Absent: c.Absent - o.Absent,
		Sized: c.Sized, ReadUnits: c.ReadUnits - o.ReadUnits, WriteUnits: c.WriteUnits - o.WriteUnits,
		BilledBytes: c.BilledBytes - o.BilledBytes, BilledItems: c.BilledItems - o.BilledItems,
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
		Sized: m.sizing, ReadUnits: float64(m.halfRRU.Load()) / 2, WriteUnits: float64(m.wru.Load()),
		BilledBytes: m.billedBytes.Load(), BilledItems: m.billedItems.Load(),
	}
}

// wrote counts one write of key and how its condition fared. stored is
// the record the write left (nil for a Delete, and for a Touch, which
// leaves the item's size as it was); with sizing, the write is billed by
// the larger of the item before and after.
func (m *Meter) wrote(key string, stored *remote.Record, deleted bool, err error) {
	m.writes.Add(1)
	var ce *remote.ConflictError
	absent := false
	switch {
	case errors.As(err, &ce) && ce.Current == 0, errors.Is(err, remote.ErrNotFound):
		m.absent.Add(1)
		absent = true
	case errors.Is(err, remote.ErrConflict):
		m.conflicts.Add(1)
	}
	if !m.sizing {
		return
	}
	before := 0
	if v, ok := m.sizes.Load(key); ok && !absent {
		before = v.(int)
	}
	size := before
	switch {
	case err == nil && stored != nil:
		after := ItemSize(len(key), len(stored.Data))
		m.sizes.Store(key, after)
		m.billedBytes.Add(int64(after))
		m.billedItems.Add(1)
		size = max(before, after)
	case err == nil && deleted:
		m.sizes.Delete(key)
	}
	m.wru.Add(int64(WriteUnits(size)))
}

// read bills, with sizing, one read of key that found rec (or nothing).
func (m *Meter) read(key string, rec remote.Record, found bool, err error, consistent bool) {
	if !m.sizing || err != nil {
		return
	}
	size := 0
	if found {
		size = ItemSize(len(key), len(rec.Data))
		m.sizes.Store(key, size)
		m.billedBytes.Add(int64(size))
		m.billedItems.Add(1)
	}
	m.halfRRU.Add(int64(2 * ReadUnits(size, consistent)))
}

// Get reads through to the wrapped store.
func (m *Meter) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	m.reads.Add(1)
	markRemoteRead(ctx)
	rec, found, err := m.inner.Get(ctx, key)
	m.read(key, rec, found, err, m.consistent)
	return rec, found, err
}

// GetConsistent reads through to the wrapped store's GetConsistent, or
// its Get when it has none (its reads are then current already).
func (m *Meter) GetConsistent(ctx context.Context, key string) (remote.Record, bool, error) {
	m.consistentReads.Add(1)
	markRemoteRead(ctx)
	get := m.inner.Get
	if cg, ok := m.inner.(remote.ConsistentGetter); ok {
		get = cg.GetConsistent
	}
	rec, found, err := get(ctx, key)
	m.read(key, rec, found, err, true)
	return rec, found, err
}

// Create writes through to the wrapped store.
func (m *Meter) Create(ctx context.Context, rec remote.Record) (remote.Record, error) {
	out, err := m.inner.Create(ctx, rec)
	m.wrote(rec.Key, &rec, false, err)
	return out, err
}

// Put writes through to the wrapped store.
func (m *Meter) Put(ctx context.Context, rec remote.Record, expected uint64) (remote.Record, error) {
	out, err := m.inner.Put(ctx, rec, expected)
	m.wrote(rec.Key, &rec, false, err)
	return out, err
}

// Delete writes through to the wrapped store.
func (m *Meter) Delete(ctx context.Context, key string, expected uint64) error {
	err := m.inner.Delete(ctx, key, expected)
	m.wrote(key, nil, true, err)
	return err
}

// Touch writes through to the wrapped store.
func (m *Meter) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	out, err := m.inner.Touch(ctx, key, expiresAt)
	m.wrote(key, nil, false, err)
	return out, err
}
