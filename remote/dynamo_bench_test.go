package remote_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// The dynalite benchmarks measure one store call's round trip to a local
// dynalite, request by request, and report its latency distribution:
//
//	go test -run '^$' -bench Dynalite -benchtime=2000x ./remote/
//
// dynalite is a Node.js emulator, so the figures say what the client side
// plus a loopback round trip cost, not what DynamoDB would answer in.

// benchPayload is the size of a typical session payload.
const benchPayload = 512

// benchStore returns a Dynamo store on a fresh table and a stored record.
func benchStore(b *testing.B) (*remote.Dynamo, remote.Record) {
	b.Helper()
	f := newFixture(b, remote.DynamoOptions{})
	rec := f.create(b, string(make([]byte, benchPayload)))
	return f.store, rec
}

// latencies collects one duration per call and reports percentiles.
type latencies []time.Duration

// time runs fn once and records how long it took.
func (l *latencies) time(fn func() error) error {
	start := time.Now()
	err := fn()
	*l = append(*l, time.Since(start))
	return err
}

// report adds p50, p99 and max, in microseconds, to the benchmark result.
func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	pct := func(p int) time.Duration { return l[(len(l)*p+99)/100-1] }
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(pct(50)), "p50-us")
	b.ReportMetric(us(pct(99)), "p99-us")
	b.ReportMetric(us(l[len(l)-1]), "max-us")
}

func BenchmarkDynaliteGetItem(b *testing.B) {
	store, rec := benchStore(b)
	ctx := context.Background()
	lat := make(latencies, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := lat.time(func() error {
			_, found, err := store.Get(ctx, rec.Key)
			if err == nil && !found {
				b.Fatal("Get: record not found")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkDynalitePutConditional measures Put: an UpdateItem conditioned
// on the stored version, each call moving the record one version on.
func BenchmarkDynalitePutConditional(b *testing.B) {
	store, rec := benchStore(b)
	ctx := context.Background()
	lat := make(latencies, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := lat.time(func() error {
			out, err := store.Put(ctx, rec, rec.Version)
			rec = out
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	lat.report(b)
}
