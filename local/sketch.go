package local

import (
	"math/bits"
	"sync/atomic"
)

// sketch estimates how often each key was requested recently, for
// Options.Admission: TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A
// Highly Efficient Cache Admission Policy", 2017). No maintained Go
// library exports one apart from a whole cache (otter and ristretto keep
// theirs internal), so it is written here, in the smallest form the policy
// needs:
//
//   - a count-min sketch of 4-bit counters, four rows. A word holds 16
//     counters, four per row, and all of a key's counters are in one word,
//     so a count or an estimate touches one cache line (the block layout of
//     Caffeine's FrequencySketch). The estimate is the least of the four.
//     There are four words per entry of capacity (32 bytes): with one, as
//     in Caffeine, collisions let several one-off keys in a scan of ten
//     capacities look frequent (TestAdmissionKeepsHotSet lost up to 11 of
//     64 hot keys; with four, up to 5);
//   - a doorkeeper: a Bloom filter with one bit per key that absorbs each
//     key's first request, so keys requested once never reach the counters
//     and the counters' 4 bits are spent on the keys that recur;
//   - aging: after sampleFactor × capacity counted requests, every counter
//     is halved and the doorkeeper cleared, so the sketch follows what is
//     popular now. TinyLFU's paper and Caffeine use ten capacities; forty
//     measured better on the Zipf trace of BenchmarkHitRatio (78.2% of
//     reads hit at ten, 79.4% at twenty, 79.8% at forty, W-TinyLFU 80.3%),
//     and at 100,000 requests a second forty capacities of 10,000 are
//     four seconds of history, short next to a session's life.
//
// Every operation is a few atomic loads and compare-and-swaps: requests
// count without a lock from every core, and a halving that runs while
// others count loses at most a few of their increments, which an estimate
// tolerates.
type sketch struct {
	words    []atomic.Uint64 // 16 4-bit counters each: row r in nibbles 4r..4r+3
	mask     uint64          // len(words)-1
	door     []atomic.Uint64 // doorkeeper bits
	doorBits uint            // log2(len(door))
	counted  atomic.Int64    // requests counted since the last halving
	period   int64           // requests between two halvings
}

const (
	// sampleFactor is the halving period in capacities: TinyLFU's sample
	// size W = sampleFactor × capacity.
	sampleFactor = 40
	// doorBitsPerEntry sizes the doorkeeper. Its false positive rate
	// barely moves the hit ratio: 32 and 128 bits measured the same.
	doorBitsPerEntry = 32
)

// newSketch returns a sketch for a cache of capacity entries.
func newSketch(capacity int) *sketch {
	n := ceilPow2(max(4*capacity, 64))
	door := ceilPow2(max(capacity*doorBitsPerEntry/64, 1))
	return &sketch{
		words:    make([]atomic.Uint64, n),
		mask:     uint64(n - 1),
		door:     make([]atomic.Uint64, door),
		doorBits: uint(bits.TrailingZeros(uint(door))),
		period:   int64(sampleFactor * max(capacity, 1)),
	}
}

// spread mixes a key's 32-bit hash into 64 well-distributed bits
// (splitmix64's finaliser).
func spread(h uint32) uint64 {
	x := uint64(h) + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// nibbles returns the word that holds the key's counters and their four
// bit offsets in it, one per row.
func (s *sketch) nibbles(x uint64) (*atomic.Uint64, [4]uint) {
	w := &s.words[x&s.mask]
	var at [4]uint
	for r := range at {
		at[r] = uint(4 * (4*r + int(x>>(32+2*r)&3))) // row r, one of its four counters
	}
	return w, at
}

// doorkeeper returns the word and bit of the key's doorkeeper entry: a
// second mix of x, whose top bits pick the word, so that they do not
// follow the bits that place the counters.
func (s *sketch) doorkeeper(x uint64) (*atomic.Uint64, uint64) {
	y := x * 0xff51afd7ed558ccd
	return &s.door[y>>(64-s.doorBits)&uint64(len(s.door)-1)], 1 << (y & 63)
}

// record counts one request for the key whose hash is h.
func (s *sketch) record(h uint32) {
	x := spread(h)
	w, bit := s.doorkeeper(x)
	if w.Or(bit)&bit != 0 { // not the first request since the halving
		s.increment(x)
	}
	if n := s.counted.Add(1); n >= s.period && s.counted.CompareAndSwap(n, 0) {
		s.halve()
	}
}

// increment adds one to each of the key's counters that is below 15.
func (s *sketch) increment(x uint64) {
	w, at := s.nibbles(x)
	for {
		old := w.Load()
		next := old
		for _, a := range at {
			if old>>a&15 < 15 {
				next += 1 << a
			}
		}
		if next == old || w.CompareAndSwap(old, next) {
			return
		}
	}
}

// estimate returns how often the key whose hash is h was requested
// recently: its least counter, plus one if the doorkeeper has seen it.
func (s *sketch) estimate(h uint32) int {
	x := spread(h)
	w, at := s.nibbles(x)
	v := w.Load()
	least := uint64(15)
	for _, a := range at {
		least = min(least, v>>a&15)
	}
	if w, bit := s.doorkeeper(x); w.Load()&bit != 0 {
		least++
	}
	return int(least)
}

// halve halves every counter and clears the doorkeeper.
func (s *sketch) halve() {
	for i := range s.words {
		w := &s.words[i]
		for {
			old := w.Load()
			if w.CompareAndSwap(old, old>>1&0x7777777777777777) {
				break
			}
		}
	}
	for i := range s.door {
		s.door[i].Store(0)
	}
}
