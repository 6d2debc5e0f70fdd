package invalidation_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// arrival is one event as a timingHandler saw it.
type arrival struct {
	e  invalidation.Event
	at time.Time
}

// timingHandler stamps every event with its arrival time.
type timingHandler struct {
	arrivals chan arrival
	gaps     chan struct{}
}

func (h *timingHandler) HandleEvent(e invalidation.Event) {
	h.arrivals <- arrival{e: e, at: time.Now()}
}

func (h *timingHandler) HandleGap() { h.gaps <- struct{}{} }

// BenchmarkRedisInvalidationDelay measures the delay from Publish on one
// node's bus to HandleEvent on another node's bus, through a loopback
// redis-server. inflight=1 publishes one event and waits for it (the delay
// of a lone write); inflight=64 publishes bursts of 64 and waits for all
// (the delay when writes come in bursts and share pipelines). ns/op is the
// time per event; p50-µs and p99-µs are percentiles of the per-event delays.
func BenchmarkRedisInvalidationDelay(b *testing.B) {
	srv := redistest.Start(b)
	a := newRedisBus(b, srv, invalidation.RedisOptions{})
	other := newRedisBus(b, srv, invalidation.RedisOptions{})
	h := &timingHandler{arrivals: make(chan arrival, 1024), gaps: make(chan struct{}, 16)}
	subscribe(b, other, h)

	for _, inflight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			sent := make([]time.Time, inflight)
			delays := make([]time.Duration, 0, b.N)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += inflight {
				n := min(inflight, b.N-i)
				for j := range n {
					sent[j] = time.Now()
					if err := a.Publish(ctx, ev(hashKey, uint64(j), invalidation.Changed, "a")); err != nil {
						b.Fatalf("Publish: %v", err)
					}
				}
				for range n {
					select {
					case got := <-h.arrivals:
						delays = append(delays, got.at.Sub(sent[got.e.Version]))
					case <-h.gaps:
						b.Fatal("gap during the benchmark")
					case <-time.After(waitTimeout):
						b.Fatalf("event lost: no arrival within %v", waitTimeout)
					}
				}
			}
			b.StopTimer()
			slices.Sort(delays)
			b.ReportMetric(percentileMicros(delays, 0.50), "p50-µs")
			b.ReportMetric(percentileMicros(delays, 0.99), "p99-µs")
		})
	}
}

// percentileMicros returns the q-quantile of sorted delays in microseconds.
func percentileMicros(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / float64(time.Microsecond)
}

// BenchmarkEventCodec measures encoding and decoding one event.
func BenchmarkEventCodec(b *testing.B) {
	e := ev(hashKey, 123456, invalidation.Changed, "node-a")
	buf := make([]byte, 0, 128)
	var out invalidation.Event
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = e.AppendBinary(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		if err := out.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
	if out != e {
		b.Fatalf("decoded %+v, want %+v", out, e)
	}
}
