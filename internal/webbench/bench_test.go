package webbench

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// parallelism is how many clients per GOMAXPROCS send requests at once
// (b.SetParallelism): enough to keep the server busy while clients wait.
const parallelism = 2

// sessions is how many distinct sessions the clients go round, so that a
// store is not measured on one hot key.
const sessions = 256

// Latencies above this are recorded as this (an HDR histogram has a
// range).
const maxLatency = 10 * time.Second

// BenchmarkSessionHit serves a session hit — the session exists, the
// handler reads one value, nothing is written — through real loopback
// HTTP with keep-alive connections and parallelism×GOMAXPROCS clients,
// for each system (see the package comment). Compare sub-benchmarks of
// one run (x-plain), not runs on different machines.
func BenchmarkSessionHit(b *testing.B) {
	var plainNsPerOp, plainCPUPerOp float64
	for _, s := range systems {
		b.Run(s.name, func(b *testing.B) {
			conns := parallelism * runtime.GOMAXPROCS(0) // RunParallel's goroutines
			tg, srv, client, cookies := serveSystem(b, s, conns, sessions)
			reqs := make([]*http.Request, len(cookies))
			buf := make([]byte, 64)
			for i, c := range cookies {
				reqs[i] = getRequest(b, srv, c)
				// The first hit of a session may load or touch it.
				if err := hit(client, reqs[i], buf); err != nil {
					b.Fatal(err)
				}
			}
			var remoteBefore int64
			if tg.remoteRequests != nil {
				remoteBefore = tg.remoteRequests()
			}
			var (
				next   atomic.Uint64
				failed atomic.Pointer[error]
				mu     sync.Mutex
				all    = newHistogram()
			)
			b.SetParallelism(parallelism)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				// Each client goes round the sessions from its own
				// starting point, with requests of its own.
				mine := make([]*http.Request, len(reqs))
				for i, r := range reqs {
					mine[i] = r.Clone(context.Background())
				}
				i := int(next.Add(1) * 37)
				h := newHistogram()
				buf := make([]byte, 64)
				for pb.Next() {
					i++
					start := time.Now()
					if err := hit(client, mine[i%len(mine)], buf); err != nil {
						failed.CompareAndSwap(nil, &err)
						break
					}
					h.RecordValue(min(int64(time.Since(start)), int64(maxLatency)))
				}
				mu.Lock()
				all.Merge(h)
				mu.Unlock()
			})
			cpu1, _ := cpuTime()
			b.StopTimer()
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/nsPerOp, "req/s")
			b.ReportMetric(float64(all.ValueAtQuantile(50))/1e3, "p50-us")
			b.ReportMetric(float64(all.ValueAtQuantile(99))/1e3, "p99-us")
			if s.name == "plain" {
				plainNsPerOp = nsPerOp
			} else if plainNsPerOp > 0 {
				b.ReportMetric(nsPerOp/plainNsPerOp, "x-plain")
			}
			if cpuOK {
				cpuPerOp := float64(cpu1-cpu0) / float64(b.N)
				b.ReportMetric(cpuPerOp/1e3, "cpu-us/op")
				if s.name == "plain" {
					plainCPUPerOp = cpuPerOp
				} else if plainCPUPerOp > 0 {
					b.ReportMetric(cpuPerOp/plainCPUPerOp, "cpu-x-plain")
				}
			}
			if tg.remoteRequests != nil {
				b.ReportMetric(float64(tg.remoteRequests()-remoteBefore)/float64(b.N), "remote/op")
			}
		})
	}
}

// newHistogram records latencies in nanoseconds, 3 significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(maxLatency), 3)
}
