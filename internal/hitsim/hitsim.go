// Package hitsim replays a key trace through cache policies and reports
// their hit ratios, so that the local tier's policy can be held against
// exact LRU and W-TinyLFU on the very same requests.
//
// A trace is a sequence of Requests: a read looks its key up and, on a
// miss, caches it (as a read-through cache does once it has loaded the
// record); a write caches a new version of its key, always (a node reads
// its own writes). Replay runs a trace through one policy on a fake clock
// that advances Options.Step per request, and counts the reads and hits
// after the first Options.Warmup requests.
//
// The policies:
//
//   - LRU: exact LRU (hashicorp/golang-lru's simplelru), every hit moved
//     to the front; LRUWithTTL adds the local tier's expiry rule (a record
//     is served for TTL after it was installed, reads do not extend it).
//   - TinyLFU: W-TinyLFU as otter v2 implements it, bounded by
//     MaximumSize, no expiry. See TinyLFU for how the replay keeps otter's
//     buffered, asynchronous policy in step with the trace.
//   - Local: the project's local.Cache, driven through Get and, on a miss,
//     InstallLoaded (Install for writes), its clock the replay's.
//
// Replays are deterministic for exact LRU. local.Cache hashes keys with a
// random seed to pick their shard, so with more than one shard its
// figures move by a few hundredths of a percentage point between runs;
// otter seeds its frequency sketch at random and admits a small share of
// candidates at random (its defence against hash flooding), which moves
// its figures by about as much. Tests leave margins of that size.
package hitsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tiersession/tiersession/internal/benchkeys"
)

// Request is one access of a trace.
type Request struct {
	// Key is the key accessed.
	Key string
	// Write marks a write: the policy caches a new version of Key,
	// whatever it held. A read looks Key up and caches it on a miss.
	Write bool
}

// ZipfTrace returns n requests over benchkeys.Keys(keys), drawn by
// benchkeys.Zipf (exponent s = 1.01, rank 0 the hottest), each a write
// with probability writeFraction, drawn from a second random stream. The
// trace depends only on its arguments.
func ZipfTrace(keys, n int, writeFraction float64, seed uint64) []Request {
	seq := benchkeys.Zipf(keys, n, seed)
	r := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed+1))
	trace := make([]Request, n)
	for i, k := range seq {
		trace[i] = Request{Key: k, Write: r.Float64() < writeFraction}
	}
	return trace
}

// Policy is a cache under replay. It is driven by one goroutine.
type Policy interface {
	// Read looks key up and reports whether it hit; on a miss the
	// policy caches key (the record just loaded), if it admits it.
	Read(key string) bool
	// Write caches a new version of key.
	Write(key string)
	// Len returns the number of entries held.
	Len() int
	// Close releases the policy's resources.
	Close()
}

// Spec names a policy and builds it on a replay's clock.
type Spec struct {
	// Name is how results name the policy.
	Name string
	// New builds the policy; clock is the replay's fake time.
	New func(clock *Clock) (Policy, error)
}

// Clock is a replay's fake time: it starts at Epoch and moves only when
// the replay advances it.
type Clock struct{ now time.Time }

// Epoch is where every replay's clock starts.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the fake time.
func (c *Clock) Now() time.Time { return c.now }

// Advance moves the fake time d forward.
func (c *Clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// Options configure a replay.
type Options struct {
	// Warmup is how many requests at the start of the trace run
	// without being counted, so that the figures are those of a warm
	// cache.
	Warmup int
	// Step is how far the fake clock advances before each request. 0
	// stands the clock still, so that nothing expires.
	Step time.Duration
}

// Result is what one replay counted after the warm-up.
type Result struct {
	// Policy is the Spec's name.
	Policy string
	// Reads counts the reads, Hits those that hit, Writes the writes.
	Reads, Hits, Writes int64
	// Len is the number of entries the policy held at the end.
	Len int
}

// HitRatio returns Hits / Reads, or 0 without reads.
func (r Result) HitRatio() float64 {
	if r.Reads == 0 {
		return 0
	}
	return float64(r.Hits) / float64(r.Reads)
}

// String prints the result as "name: 81.23% of 1000 reads".
func (r Result) String() string {
	return fmt.Sprintf("%s: %.2f%% of %d reads", r.Policy, 100*r.HitRatio(), r.Reads)
}

// errCapacity refuses a capacity below 1.
var errCapacity = errors.New("hitsim: capacity must be at least 1")

// Replay runs trace through a fresh policy built by spec and returns
// what it counted after o.Warmup requests.
func Replay(spec Spec, trace []Request, o Options) (Result, error) {
	clock := NewClock()
	p, err := spec.New(clock)
	if err != nil {
		return Result{}, fmt.Errorf("hitsim: %s: %w", spec.Name, err)
	}
	defer p.Close()
	res := Result{Policy: spec.Name}
	for i, r := range trace {
		clock.Advance(o.Step)
		counted := i >= o.Warmup
		if r.Write {
			p.Write(r.Key)
			if counted {
				res.Writes++
			}
			continue
		}
		hit := p.Read(r.Key)
		if counted {
			res.Reads++
			if hit {
				res.Hits++
			}
		}
	}
	res.Len = p.Len()
	return res, nil
}

// ReplayAll replays trace through each spec, in parallel (every replay
// has its own policy and clock), and returns the results in the order of
// specs, or the first error.
func ReplayAll(specs []Spec, trace []Request, o Options) ([]Result, error) {
	out := make([]Result, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { out[i], errs[i] = Replay(s, trace, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
