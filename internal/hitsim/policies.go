package hitsim

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/maypok86/otter/v2"

	"github.com/tiersession/tiersession/local"
)

// LRU is exact LRU over capacity entries: every hit moves its key to the
// front, a miss or a write puts its key at the front and evicts the least
// recently used key when full. Nothing expires.
func LRU(capacity int) Spec {
	return Spec{Name: "exact LRU", New: func(clock *Clock) (Policy, error) { return newLRU(capacity, 0, clock) }}
}

// LRUWithTTL is LRU whose entries expire as the local tier's do: a key is
// served for ttl after it was cached (by a miss or a write), and a hit
// does not extend that. An expired key is a miss, which caches it again.
func LRUWithTTL(capacity int, ttl time.Duration) Spec {
	return Spec{Name: "exact LRU, TTL " + ttl.String(), New: func(clock *Clock) (Policy, error) { return newLRU(capacity, ttl, clock) }}
}

// lruPolicy is LRU and LRUWithTTL.
type lruPolicy struct {
	l     *simplelru.LRU[string, time.Time] // key → when it stops being served
	ttl   time.Duration                     // 0: never
	clock *Clock
}

func newLRU(capacity int, ttl time.Duration, clock *Clock) (Policy, error) {
	if capacity < 1 {
		return nil, errCapacity
	}
	l, err := simplelru.NewLRU[string, time.Time](capacity, nil)
	if err != nil {
		return nil, err
	}
	return &lruPolicy{l: l, ttl: ttl, clock: clock}, nil
}

func (p *lruPolicy) Read(key string) bool {
	if until, ok := p.l.Get(key); ok && (p.ttl == 0 || p.clock.Now().Before(until)) {
		return true
	}
	p.Write(key)
	return false
}

func (p *lruPolicy) Write(key string) { p.l.Add(key, p.clock.Now().Add(p.ttl)) }
func (p *lruPolicy) Len() int         { return p.l.Len() }
func (p *lruPolicy) Close()           {}

// TinyLFU is W-TinyLFU as otter v2 implements it (an admission window in
// front of a segmented LRU, a count-min sketch deciding which of the
// window's victim and the main space's victim stays, the window's size
// tuned by hill climbing), bounded by MaximumSize = capacity, no expiry.
//
// otter applies its policy asynchronously: a read goes into a lossy
// striped buffer (16 slots per stripe) and a write into a bounded queue,
// and a maintenance pass, on a goroutine of its own by default, replays
// them into the policy and evicts. Replayed as it is, the policy would lag
// the trace by an amount that depends on scheduling, reads would be
// dropped whenever a buffer filled before the maintenance goroutine ran,
// and the cache would hold more than capacity entries in between
// (measured: 580 entries in a cache of 500, and two points of hit ratio
// lost on a zipf trace). So that the replay is fair and repeatable, the
// cache runs its maintenance on the replaying goroutine (Options.Executor
// calls each task at once). Then every insert (a miss or a write) runs a
// full maintenance pass before it returns, which first drains the buffered
// reads in trace order and then evicts: every eviction decision has seen
// every earlier access, and the size bound holds after every request. A
// read buffer that fills between two inserts is drained at once, on the
// same goroutine, so no read is dropped. Len calls CleanUp first, so that
// the count it reports is after the last pass. (Calling CleanUp after
// every request as well was measured to change nothing but the cost,
// which it doubles.) What remains random is otter's own: its sketch's
// hash seed and its random admission of a small share of candidates.
func TinyLFU(capacity int) Spec {
	return Spec{Name: "W-TinyLFU (otter)", New: func(*Clock) (Policy, error) {
		if capacity < 1 {
			return nil, errCapacity
		}
		c, err := otter.New(&otter.Options[string, struct{}]{
			MaximumSize: capacity,
			Executor:    func(fn func()) { fn() },
		})
		if err != nil {
			return nil, err
		}
		return &otterPolicy{c: c}, nil
	}}
}

// otterPolicy is TinyLFU.
type otterPolicy struct {
	c *otter.Cache[string, struct{}]
}

func (p *otterPolicy) Read(key string) bool {
	_, ok := p.c.GetIfPresent(key)
	if !ok {
		p.c.Set(key, struct{}{})
	}
	return ok
}

func (p *otterPolicy) Write(key string) { p.c.Set(key, struct{}{}) }

func (p *otterPolicy) Len() int {
	p.c.CleanUp()
	return p.c.EstimatedSize()
}

func (p *otterPolicy) Close() { p.c.StopAllGoroutines() }

// LocalConfig configures the local.Cache that Local replays.
type LocalConfig struct {
	// Capacity is local.Options.Capacity; it must be at least 1.
	Capacity int
	// TTL is local.Options.TTL: how long an installed record is served.
	// 0 is local's default (5s).
	TTL time.Duration
	// Shards is local.Options.Shards. 0 is local's default for this
	// machine: what a deployment runs, with per-shard LRU order.
	Shards int
	// Admission is local.Options.Admission: InstallLoaded, which a miss
	// calls, then refuses a record whose key is requested less often
	// than the record it would evict (TinyLFU admission).
	Admission bool
}

// Local is the project's local tier, local.Cache, configured by cfg on
// the replay's clock (Options.Now): a read is Get, and on a miss
// InstallLoaded of the record "loaded" from a source of truth the policy
// keeps (each key's current version); a write installs the next version
// with Install, which always takes it. Records expire only by the
// cache's TTL (their own ExpiresAt is far beyond any replay).
func Local(cfg LocalConfig) Spec {
	name := "local, TTL " + orDefault(cfg.TTL, local.DefaultTTL).String()
	if cfg.Admission {
		name += ", admission"
	}
	return Spec{Name: name, New: func(clock *Clock) (Policy, error) {
		if cfg.Capacity < 1 {
			return nil, errCapacity
		}
		c, err := local.New(local.Options{
			Capacity:  cfg.Capacity,
			TTL:       cfg.TTL,
			Shards:    cfg.Shards,
			Admission: cfg.Admission,
			Now:       clock.Now,
		})
		if err != nil {
			return nil, err
		}
		return &localPolicy{c: c, versions: make(map[string]uint64), expires: clock.Now().Add(100 * 365 * 24 * time.Hour)}, nil
	}}
}

// orDefault returns d, or def when d is 0.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// localPolicy is Local.
type localPolicy struct {
	c        *local.Cache
	versions map[string]uint64 // the source of truth: each key's version
	expires  time.Time         // every record's own ExpiresAt
}

// payload is every record's data: the policy counts entries, not bytes.
var payload = []byte("session")

func (p *localPolicy) entry(key string) local.Entry {
	v, ok := p.versions[key]
	if !ok {
		v = 1
		p.versions[key] = v
	}
	return local.Entry{Data: payload, Version: v, ExpiresAt: p.expires}
}

func (p *localPolicy) Read(key string) bool {
	if _, res := p.c.Get(key); res == local.Hit {
		return true
	}
	// A load: the record as the source of truth holds it. With
	// Admission, InstallLoaded may refuse it; without, it is Install.
	p.c.InstallLoaded(key, p.entry(key))
	return false
}

func (p *localPolicy) Write(key string) {
	p.versions[key] = p.entry(key).Version + 1
	p.c.Install(key, p.entry(key))
}

func (p *localPolicy) Len() int { return p.c.Len() }
func (p *localPolicy) Close()   { _ = p.c.Close() }
