package hitsim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// parse turns "a b Wc" into a trace: "Wk" is a write of k, "k" a read.
func parse(s string) []Request {
	var t []Request
	for _, f := range strings.Fields(s) {
		if k, ok := strings.CutPrefix(f, "W"); ok {
			t = append(t, Request{Key: k, Write: true})
		} else {
			t = append(t, Request{Key: f})
		}
	}
	return t
}

func replay(t *testing.T, spec Spec, trace []Request, o Options) Result {
	t.Helper()
	r, err := Replay(spec, trace, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLRUHandComputed(t *testing.T) {
	// Capacity 2, front of the list first:
	//   a  miss [a]      b  miss [b a]     a  hit  [a b]
	//   c  miss [c a]    a  hit  [a c]     b  miss [b a]
	//   Wc      [c b]    a  miss [a c]     c  hit  [c a]
	trace := parse("a b a c a b Wc a c")
	got := replay(t, LRU(2), trace, Options{})
	if got.Reads != 8 || got.Hits != 3 || got.Writes != 1 || got.Len != 2 {
		t.Errorf("got %+v, want 8 reads, 3 hits, 1 write, 2 entries", got)
	}
	// The same trace with the first three requests as warm-up: the hits
	// on a (5th) and c (9th) count, a's first hit does not.
	got = replay(t, LRU(2), trace, Options{Warmup: 3})
	if got.Reads != 5 || got.Hits != 2 {
		t.Errorf("after a warm-up of 3: got %+v, want 5 reads, 2 hits", got)
	}
}

func TestTTLFollowsTheFakeClock(t *testing.T) {
	// One second per request, a TTL of 2.5s: a is cached at 1s, hits at
	// 2s and 3s, has expired at 4s (a miss that caches it again until
	// 6.5s), hits at 5s and 6s. A write at 7s renews it until 9.5s: hits
	// at 8s and 9s.
	trace := parse("a a a a a a Wa a a")
	for _, spec := range []Spec{
		LRUWithTTL(4, 2500*time.Millisecond),
		Local(LocalConfig{Capacity: 4, TTL: 2500 * time.Millisecond}),
	} {
		t.Run(spec.Name, func(t *testing.T) {
			got := replay(t, spec, trace, Options{Step: time.Second})
			if got.Reads != 8 || got.Hits != 6 {
				t.Errorf("got %+v, want 8 reads, 6 hits", got)
			}
		})
	}
	// Without a step, time stands still and nothing expires.
	if got := replay(t, LRUWithTTL(4, time.Nanosecond), trace, Options{}); got.Hits != 7 {
		t.Errorf("clock standing still: %d hits, want 7", got.Hits)
	}
}

// firstTouchMisses counts the keys whose first request in trace is a
// read: with room for every key, those are the only misses.
func firstTouchMisses(trace []Request) (reads, misses int64) {
	seen := make(map[string]bool)
	for _, r := range trace {
		if !r.Write {
			reads++
			if !seen[r.Key] {
				misses++
			}
		}
		seen[r.Key] = true
	}
	return reads, misses
}

func TestEveryPolicyHitsAllAfterFirstTouch(t *testing.T) {
	const keys = 300
	trace := ZipfTrace(keys, 20_000, 0.05, 7)
	reads, misses := firstTouchMisses(trace)
	if misses < keys/2 {
		t.Fatalf("only %d first-touch misses: the trace does not touch most keys", misses)
	}
	for _, spec := range []Spec{
		LRU(keys),
		TinyLFU(keys),
		Local(LocalConfig{Capacity: keys, TTL: time.Hour, Shards: 1}),
		Local(LocalConfig{Capacity: keys, TTL: time.Hour, Shards: 1, Admission: true}),
	} {
		t.Run(spec.Name, func(t *testing.T) {
			got := replay(t, spec, trace, Options{Step: 10 * time.Microsecond})
			if got.Reads != reads || got.Hits != reads-misses {
				t.Errorf("got %d hits of %d reads, want %d", got.Hits, got.Reads, reads-misses)
			}
		})
	}
}

func TestBoundsHold(t *testing.T) {
	const capacity = 500
	trace := ZipfTrace(10_000, 50_000, 0.05, 3)
	for _, spec := range []Spec{LRU(capacity), TinyLFU(capacity), Local(LocalConfig{Capacity: capacity, TTL: time.Hour})} {
		t.Run(spec.Name, func(t *testing.T) {
			got := replay(t, spec, trace, Options{})
			if got.Len > capacity || got.Len < capacity*9/10 {
				t.Errorf("%d entries at the end, want at most %d and close to it", got.Len, capacity)
			}
		})
	}
}

func TestTinyLFUBeatsLRUOnZipf(t *testing.T) {
	// On a skewed trace with a cache of a tenth of the keys, frequency
	// beats recency by several points: W-TinyLFU keeps the hot keys that
	// LRU lets one-off keys push out. If otter's policy did not see the
	// accesses (its buffers not drained), it would fall to LRU's level
	// or below.
	trace := ZipfTrace(20_000, 200_000, 0.05, 11)
	o := Options{Warmup: 20_000}
	res, err := ReplayAll([]Spec{LRU(2000), TinyLFU(2000)}, trace, o)
	if err != nil {
		t.Fatal(err)
	}
	lru, tiny := res[0], res[1]
	t.Logf("%v; %v", lru, tiny)
	if tiny.HitRatio() < lru.HitRatio()+0.02 {
		t.Errorf("W-TinyLFU %.2f%%, exact LRU %.2f%%: want W-TinyLFU ahead by 2 points or more",
			100*tiny.HitRatio(), 100*lru.HitRatio())
	}
	// Exact LRU is deterministic; ReplayAll returns what Replay does.
	if again := replay(t, LRU(2000), trace, o); again != lru {
		t.Errorf("exact LRU replayed again: %+v, then %+v", lru, again)
	}
}

func TestZipfTrace(t *testing.T) {
	a, b := ZipfTrace(1000, 50_000, 0.05, 1), ZipfTrace(1000, 50_000, 0.05, 1)
	if !slices.Equal(a, b) {
		t.Fatal("same arguments gave different traces")
	}
	if slices.Equal(a, ZipfTrace(1000, 50_000, 0.05, 2)) {
		t.Fatal("different seeds gave the same trace")
	}
	writes := 0
	for _, r := range a {
		if r.Write {
			writes++
		}
	}
	if f := float64(writes) / float64(len(a)); math.Abs(f-0.05) > 0.005 {
		t.Errorf("%.2f%% writes, want 5%%", 100*f)
	}
	if n := len(ZipfTrace(10, 100, 0, 1)); n != 100 {
		t.Errorf("len = %d, want 100", n)
	}
}

func TestBadCapacity(t *testing.T) {
	for _, spec := range []Spec{LRU(0), LRUWithTTL(0, time.Second), TinyLFU(0), Local(LocalConfig{})} {
		if _, err := Replay(spec, parse("a"), Options{}); err == nil {
			t.Errorf("%s: capacity 0 accepted", spec.Name)
		}
	}
	if _, err := ReplayAll([]Spec{LRU(1), TinyLFU(-1)}, parse("a"), Options{}); err == nil {
		t.Error("ReplayAll hid an error")
	}
}

// BenchmarkReplay measures the cost of one replayed request per policy,
// which bounds what a simulation adds to a tierbench run.
func BenchmarkReplay(b *testing.B) {
	trace := ZipfTrace(100_000, 1<<18, 0.05, 1)
	for _, spec := range []Spec{
		LRU(10_000),
		TinyLFU(10_000),
		Local(LocalConfig{Capacity: 10_000}),
	} {
		b.Run(spec.Name, func(b *testing.B) {
			var res Result
			for b.Loop() {
				r, err := Replay(spec, trace, Options{Step: 10 * time.Microsecond})
				if err != nil {
					b.Fatal(err)
				}
				res = r
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(trace)), "ns/request")
			b.ReportMetric(100*res.HitRatio(), "hit-%")
		})
	}
}

// TestTinyLFUBoundHoldsAfterEveryRequest checks what TinyLFU's doc
// promises of the replay: with maintenance on the replaying goroutine,
// otter never holds more than its maximum between two requests, without
// any CleanUp call.
func TestTinyLFUBoundHoldsAfterEveryRequest(t *testing.T) {
	const capacity = 200
	p, err := TinyLFU(capacity).New(NewClock())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := p.(*otterPolicy).c
	for i, r := range ZipfTrace(5000, 30_000, 0.05, 5) {
		if r.Write {
			p.Write(r.Key)
		} else {
			p.Read(r.Key)
		}
		if n := c.EstimatedSize(); n > capacity {
			t.Fatalf("request %d: %d entries, want at most %d", i, n, capacity)
		}
	}
}
