package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// z99 is the standard normal quantile at 0.99.
const z99 = 2.3263478740408408

// LatencyModel is the round trip added to each call of the in-memory
// remote so that it behaves like a networked DynamoDB: reads and writes
// each take a lognormal time given by its median and 99th percentile.
// The zero model adds nothing.
//
// The default (DefaultLatencyModel) stands for an in-region DynamoDB call
// from EC2 through the Go SDK: reads (GetItem, eventually consistent)
// median 3 ms, p99 10 ms; writes (conditional PutItem/UpdateItem) median
// 5 ms, p99 15 ms. These are a model of typical published and observed
// figures, not a measurement; change them with the -latency-* flags, or
// measure the real thing with -dynamodb-endpoint.
type LatencyModel struct {
	// ReadP50 is the median latency of a read. 0 with ReadP99 0: no
	// latency on reads.
	ReadP50 time.Duration
	// ReadP99 is the 99th percentile of a read; at least ReadP50.
	ReadP99 time.Duration
	// WriteP50 is the median latency of a write (Create, Put, Delete,
	// Touch).
	WriteP50 time.Duration
	// WriteP99 is the 99th percentile of a write; at least WriteP50.
	WriteP99 time.Duration
}

// DefaultLatencyModel is the embedded model of an in-region DynamoDB call.
var DefaultLatencyModel = LatencyModel{
	ReadP50:  3 * time.Millisecond,
	ReadP99:  10 * time.Millisecond,
	WriteP50: 5 * time.Millisecond,
	WriteP99: 15 * time.Millisecond,
}

// maxModelLatency caps one sampled latency, so the far tail of the
// lognormal cannot stall a short run.
const maxModelLatency = time.Second

// Validate checks that every percentile is non-negative and each p99 is at
// least its median.
func (m LatencyModel) Validate() error {
	check := func(what string, p50, p99 time.Duration) error {
		if p50 < 0 || p99 < 0 {
			return fmt.Errorf("bench: %s latency p50 %v, p99 %v: must not be negative", what, p50, p99)
		}
		if p99 < p50 {
			return fmt.Errorf("bench: %s latency p99 %v is below its p50 %v", what, p99, p50)
		}
		if p50 == 0 && p99 > 0 {
			return fmt.Errorf("bench: %s latency p50 is 0 but p99 is %v: set both or neither", what, p99)
		}
		return nil
	}
	if err := check("read", m.ReadP50, m.ReadP99); err != nil {
		return err
	}
	return check("write", m.WriteP50, m.WriteP99)
}

// Zero reports whether the model adds no latency at all.
func (m LatencyModel) Zero() bool { return m.ReadP50 == 0 && m.WriteP50 == 0 }

// String describes the model in one line.
func (m LatencyModel) String() string {
	if m.Zero() {
		return "no added latency"
	}
	return fmt.Sprintf("lognormal: read p50 %v p99 %v; write p50 %v p99 %v", m.ReadP50, m.ReadP99, m.WriteP50, m.WriteP99)
}

// sample draws one round trip of a read or a write; it is the in-memory
// remote's MemoryOptions.Latency.
func (m LatencyModel) sample(write bool) time.Duration {
	if write {
		return m.sampleWrite()
	}
	return m.sampleRead()
}

// sampleRead draws one read latency.
func (m LatencyModel) sampleRead() time.Duration {
	return lognormal(m.ReadP50, m.ReadP99, rand.NormFloat64())
}

// sampleWrite draws one write latency.
func (m LatencyModel) sampleWrite() time.Duration {
	return lognormal(m.WriteP50, m.WriteP99, rand.NormFloat64())
}

// lognormal maps a standard normal draw z to the lognormal quantile with
// the given median and 99th percentile: median * exp(sigma*z) with
// sigma = ln(p99/median) / z99.
func lognormal(p50, p99 time.Duration, z float64) time.Duration {
	if p50 <= 0 {
		return 0
	}
	sigma := math.Log(float64(p99)/float64(p50)) / z99
	d := float64(p50) * math.Exp(sigma*z)
	if d > float64(maxModelLatency) {
		return maxModelLatency
	}
	return time.Duration(d)
}
