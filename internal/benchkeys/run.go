package benchkeys

import (
	"sync/atomic"
	"testing"
)

// RunHits benchmarks get over seq, serially and from GOMAXPROCS goroutines
// (sub-benchmarks "serial" and "parallel"), reporting allocations and the
// fraction of calls for which get returned false ("miss/op", which a hit
// benchmark expects to be 0). len(seq) must be a power of two. Every
// contender in a comparison goes through the same closure call, so the
// ratios between them are fair.
func RunHits(b *testing.B, seq []string, get func(key string) bool) {
	mask := len(seq) - 1
	if len(seq) == 0 || len(seq)&mask != 0 {
		b.Fatalf("benchkeys: RunHits needs a power-of-two sequence, got %d keys", len(seq))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		miss := 0
		b.ResetTimer()
		for i := range b.N {
			if !get(seq[i&mask]) {
				miss++
			}
		}
		b.ReportMetric(float64(miss)/float64(b.N), "miss/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var misses, worker atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine starts at its own place in the sequence, so
			// they do not walk the same keys in lock step.
			i, miss := int(worker.Add(1))*7919, 0
			for pb.Next() {
				if !get(seq[i&mask]) {
					miss++
				}
				i++
			}
			misses.Add(int64(miss))
		})
		b.ReportMetric(float64(misses.Load())/float64(b.N), "miss/op")
	})
}
