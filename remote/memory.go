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
	gens  map[string]memGeneration // by owner, as the generation items

	requests   atomic.Int64
	loseNext   atomic.Bool
	maxRetries int
	createHook func(stage string) // see export_test.go
}

var (
	_ Store            = (*Memory)(nil)
	_ ConsistentGetter = (*Memory)(nil)
	_ Owners           = (*Memory)(nil)
)

// memItem is the stored form of a record, as a DynamoDB item would hold it.
type memItem struct {
	data    []byte
	ver     uint64
	exp     int64 // epoch seconds
	wid     writeID
	corrupt bool // stands for an item that does not decode
	owned   memOwned
}

// memOwned is the owner attributes of an item; zero for an unowned one.
type memOwned struct {
	owner   string
	meta    map[string]string // owned by the item: never handed out
	created int64             // epoch seconds
	gen     uint64
}

// memGeneration is an owner's generation item: the counter and the write
// id of the Revoke that last raised it.
type memGeneration struct {
	gen uint64
	wid writeID
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{
		latency:    opts.Latency,
		now:        opts.Now,
		items:      make(map[string]memItem),
		gens:       make(map[string]memGeneration),
		maxRetries: 2,
	}
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
	rec := Record{Key: key, Data: clone(it.data), Version: it.ver, ExpiresAt: time.Unix(it.exp, 0)}
	if o := it.owned; o.owner != "" {
		rec.Owner, rec.Meta, rec.CreatedAt, rec.Generation = o.owner, cloneMeta(o.meta), time.Unix(o.created, 0), o.gen
	}
	return rec, nil
}

// size is what DynamoDB counts for these owner attributes.
func (o memOwned) size() int { return ownerItemSize(o.owner, o.meta) }

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
// request whose response was lost. An owned Create reads the owner's
// generation before and after (see Owners).
func (m *Memory) write(ctx context.Context, rec Record, expected uint64) (Record, error) {
	now := m.now()
	exp, err := checkWrite(rec, now, expected == 0)
	if err != nil {
		return Record{}, err
	}
	var owned memOwned
	if expected == 0 && rec.Owner != "" {
		gen, err := m.Generation(ctx, rec.Owner)
		if err != nil {
			// Nothing was written: the write was never sent.
			return Record{}, notApplied(err)
		}
		owned = memOwned{owner: rec.Owner, meta: cloneMeta(rec.Meta), created: now.Unix(), gen: gen}
		m.hook("read")
	}
	out, err := m.attempts(ctx, rec.Key, clone(rec.Data), exp, expected, owned)
	if err != nil || owned.owner == "" {
		return out, err
	}
	m.hook("written")
	return out, m.recheck(ctx, out)
}

// recheck ends an owned Create that wrote out: if the owner's generation
// moved since the Create read it, the record is revoked, so it is deleted
// (best effort) and the Create fails with ErrRevoked. When the generation
// cannot be read, the record stays and the Create succeeds: whoever loads
// it compares its generation as for any other.
func (m *Memory) recheck(ctx context.Context, out Record) error {
	gen, err := m.Generation(ctx, out.Owner)
	if err != nil || gen == out.Generation {
		return nil
	}
	_ = m.Delete(ctx, out.Key, out.Version)
	return fmt.Errorf("%w: the owner's generation went from %d to %d during the Create", ErrRevoked, out.Generation, gen)
}

// hook runs the test hook, if one is set (export_test.go).
func (m *Memory) hook(stage string) {
	if m.createHook != nil {
		m.createHook(stage)
	}
}

// attempts sends the attempts of one write.
func (m *Memory) attempts(ctx context.Context, key string, data []byte, exp int64, expected uint64, owned memOwned) (Record, error) {
	id := newWriteID()
	for attempt := 0; ; attempt++ {
		if err := m.wait(ctx, true); err != nil {
			if attempt > 0 {
				return Record{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
			}
			return Record{}, notApplied(err)
		}
		res := m.attempt(key, data, exp, expected, owned, id, attempt > 0)
		if m.loseNext.CompareAndSwap(true, false) {
			if attempt < m.maxRetries {
				continue // the response is lost; retry the same write
			}
			return Record{}, fmt.Errorf("%w: response lost", ErrUnknownOutcome)
		}
		if res.tooLarge {
			return Record{}, fmt.Errorf("%w: the record's owner attributes and %d bytes of Data exceed %d", ErrTooLarge, len(data), MaxItemSize)
		}
		if res.done {
			return res.rec, nil
		}
		switch res.out {
		case outcomeOwnWrite:
			return res.rec, nil
		case outcomeNotFound:
			return Record{}, ErrNotFound
		case outcomeUnknown:
			return Record{}, fmt.Errorf("%w: retried after a lost response and the record has changed since", ErrUnknownOutcome)
		default:
			return Record{}, &ConflictError{Expected: expected, Current: res.cur}
		}
	}
}

// attemptResult is what one conditional write did. done: the condition
// held and the item was written; otherwise out says how the failure
// settles and cur is the stored version. rec is the stored record when
// done or when out is outcomeOwnWrite. tooLarge: the condition held but
// the item would exceed MaxItemSize; nothing was written.
type attemptResult struct {
	out      outcome
	cur      uint64
	done     bool
	tooLarge bool
	rec      Record
}

// attempt is one conditional write as the server runs it. A Put keeps the
// stored owner attributes; a Create writes owned's.
func (m *Memory) attempt(key string, data []byte, exp int64, expected uint64, owned memOwned, id writeID, ambiguous bool) attemptResult {
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
		owned = old.owned
	}
	if cond {
		if itemSize(key, len(data))+owned.size() > MaxItemSize {
			return attemptResult{tooLarge: true}
		}
		it := memItem{data: data, ver: expected + 1, exp: exp, wid: id, owned: owned}
		m.items[key] = it
		rec, _ := it.record(key)
		return attemptResult{done: true, rec: rec}
	}
	res := attemptResult{
		out: settle(found && !old.corrupt, live, old.ver, old.wid[:], expected, id, ambiguous),
		cur: old.ver,
	}
	if res.out == outcomeOwnWrite {
		res.rec, _ = old.record(key)
	}
	return res
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
