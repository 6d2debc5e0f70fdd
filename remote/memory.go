package remote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryOptions configures a Memory store. The zero value is ready to use.
type MemoryOptions struct {
	// Latency, when set, is called once per request (write is false for
	// Get, true for every write) and the request waits that long, or until
	// its context ends, before it is served: a latency model of a networked
	// store for benchmarks and examples. Default: nil, no added latency.
	Latency func(write bool) time.Duration
	// Now is the clock used for expiry. Default: time.Now.
	Now func() time.Time
}

// Memory is an in-memory Store with exactly the semantics of the DynamoDB
// implementation: the same validation, size limit, whole-second expiry,
// version checks and write ids. It is the embedded default for benchmarks
// and examples. It keeps everything in one map under one lock and never
// forgets expired records on its own; it is not meant for large data sets.
type Memory struct {
	latency func(write bool) time.Duration
	now     func() time.Time

	mu    sync.Mutex
	items map[string]memItem

	requests   atomic.Int64
	loseNext   atomic.Bool
	maxRetries int
}

var (
	_ Store            = (*Memory)(nil)
	_ ConsistentGetter = (*Memory)(nil)
)

// memItem is the stored form of a record, as a DynamoDB item would hold it.
type memItem struct {
	data    []byte
	ver     uint64
	exp     int64 // epoch seconds
	wid     writeID
	corrupt bool // stands for an item that does not decode
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{latency: opts.Latency, now: opts.Now, items: make(map[string]memItem), maxRetries: 2}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Requests returns how many requests the store has served, counting each
// attempt of a retried write.
func (m *Memory) Requests() int64 { return m.requests.Load() }

// LoseNextResponse makes the next write be applied but answered as a lost
// response, as a network timeout would; the store then retries it the way
// the DynamoDB client does. It exists for tests of ambiguous writes.
func (m *Memory) LoseNextResponse() { m.loseNext.Store(true) }

// Corrupt stores an item under key that does not decode. It exists for
// tests.
func (m *Memory) Corrupt(key string) {
	m.mu.Lock()
	m.items[key] = memItem{corrupt: true, exp: m.now().Add(time.Hour).Unix()}
	m.mu.Unlock()
}

// wait applies the latency model; it is the network round trip. A request
// whose context has already ended is not sent, and not counted.
func (m *Memory) wait(ctx context.Context, write bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.requests.Add(1)
	if m.latency == nil {
		return nil
	}
	d := m.latency(write)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notApplied maps the context error that ended a write's first request
// (before it was sent, or during the latency wait, which comes before the
// write is applied): nothing was written, as Dynamo reports a write it
// never sent.
func notApplied(ctxErr error) error {
	return fmt.Errorf("%w: memory: write not applied: %w", ErrUnavailable, ctxErr)
}

func (it memItem) record(key string) (Record, error) {
	if it.corrupt {
		return Record{}, fmt.Errorf("%w: attribute %q is missing or mistyped", ErrCorrupt, attrVersion)
	}
	return Record{Key: key, Data: clone(it.data), Version: it.ver, ExpiresAt: time.Unix(it.exp, 0)}, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := ValidKey(key); err != nil {
		return Record{}, false, err
	}
	if err := m.wait(ctx, false); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	it, ok := m.items[key]
	m.mu.Unlock()
	if !ok {
		return Record{}, false, nil
	}
	rec, err := it.record(key)
	if err != nil {
		return Record{}, false, err
	}
	if !isLive(it.exp, m.now()) {
		return Record{}, false, nil
	}
	return rec, true, nil
}

// GetConsistent implements ConsistentGetter: Memory's Get is always
// current.
func (m *Memory) GetConsistent(ctx context.Context, key string) (Record, bool, error) {
	return m.Get(ctx, key)
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, rec Record) (Record, error) {
	return m.write(ctx, rec, 0)
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, rec Record, expected uint64) (Record, error) {
	if expected == 0 {
		return Record{}, fmt.Errorf("%w: Put needs the expected version (use Create for a new record)", ErrInvalid)
	}
	return m.write(ctx, rec, expected)
}

// write is Create (expected 0) and Put: one logical write with one write id,
// attempted until its outcome is known, as the DynamoDB client retries a
// request whose response was lost.
func (m *Memory) write(ctx context.Context, rec Record, expected uint64) (Record, error) {
	exp, err := checkWrite(rec, m.now())
	if err != nil {
		return Record{}, err
	}
	id := newWriteID()
	data := clone(rec.Data)
	for attempt := 0; ; attempt++ {
		if err := m.wait(ctx, true); err != nil {
			if attempt > 0 {
				return Record{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
			}
			return Record{}, notApplied(err)
		}
		out, cur, done := m.attempt(rec.Key, data, exp, expected, id, attempt > 0)
		if m.loseNext.CompareAndSwap(true, false) {
			if attempt < m.maxRetries {
				continue // the response is lost; retry the same write
			}
			return Record{}, fmt.Errorf("%w: response lost", ErrUnknownOutcome)
		}
		if done {
			return Record{Key: rec.Key, Data: clone(data), Version: expected + 1, ExpiresAt: time.Unix(exp, 0)}, nil
		}
		switch out {
		case outcomeOwnWrite:
			return Record{Key: rec.Key, Data: clone(data), Version: expected + 1, ExpiresAt: time.Unix(exp, 0)}, nil
		case outcomeNotFound:
			return Record{}, ErrNotFound
		case outcomeUnknown:
			return Record{}, fmt.Errorf("%w: retried after a lost response and the record has changed since", ErrUnknownOutcome)
		default:
			return Record{}, &ConflictError{Expected: expected, Current: cur}
		}
	}
}

// attempt is one conditional write as the server runs it. done reports that
// the condition held and the item was written; otherwise out says how the
// failure settles and cur is the stored version.
func (m *Memory) attempt(key string, data []byte, exp int64, expected uint64, id writeID, ambiguous bool) (out outcome, cur uint64, done bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	old, found := m.items[key]
	live := found && isLive(old.exp, now)
	var cond bool
	if expected == 0 {
		cond = !live
	} else {
		cond = live && !old.corrupt && old.ver == expected
	}
	if cond {
		m.items[key] = memItem{data: data, ver: expected + 1, exp: exp, wid: id}
		return 0, 0, true
	}
	return settle(found && !old.corrupt, live, old.ver, old.wid[:], expected, id, ambiguous), old.ver, false
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string, expected uint64) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := m.wait(ctx, true); err != nil {
		return notApplied(err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	old, found := m.items[key]
	if expected != 0 && found && isLive(old.exp, now) && old.ver != expected {
		return &ConflictError{Expected: expected, Current: old.ver}
	}
	delete(m.items, key)
	return nil
}

// Touch implements Store.
func (m *Memory) Touch(ctx context.Context, key string, expiresAt time.Time) (Record, error) {
	if err := ValidKey(key); err != nil {
		return Record{}, err
	}
	exp, err := checkExpiry(expiresAt, m.now())
	if err != nil {
		return Record{}, err
	}
	if err := m.wait(ctx, true); err != nil {
		return Record{}, notApplied(err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	it, found := m.items[key]
	if !found || !isLive(it.exp, now) {
		return Record{}, ErrNotFound
	}
	if it.corrupt {
		return it.record(key)
	}
	if exp > it.exp {
		it.exp = exp
		m.items[key] = it
	}
	return it.record(key)
}
