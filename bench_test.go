package tiersession_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/tier"
)

// BenchmarkInvalidationDelay measures, over a loopback redis-server, the
// time from a Save returning on node A (its event is queued by then) to
// node B having evicted its copy. Each op is one Save on A (to dynalite)
// and one wait on B; the delay percentiles are reported in µs.
func BenchmarkInvalidationDelay(b *testing.B) {
	ctx := context.Background()
	tb := newTable(b)
	nodes, buses := cluster(b, tb, redistest.Start(b), 2, tier.Options{LocalTTL: time.Hour})
	a, nodeB := nodes[0], nodes[1]
	rec, err := a.Create(ctx, tb.record(b, "v"))
	if err != nil {
		b.Fatal(err)
	}
	buses[1].waitEvent(b, rec.Key, 1)
	delays := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		get(b, nodeB, rec.Key) // B holds the current version
		b.StartTimer()
		if rec, err = a.Save(ctx, rec); err != nil {
			b.Fatal(err)
		}
		sent := time.Now()
		buses[1].waitEvent(b, rec.Key, rec.Version)
		delays = append(delays, time.Since(sent))
	}
	b.StopTimer()
	if st := nodeB.Stats(); st.BusApplied != uint64(b.N) {
		b.Fatalf("B applied %d of %d events", st.BusApplied, b.N)
	}
	slices.Sort(delays)
	q := func(p float64) float64 { return float64(delays[int(p*float64(len(delays)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
