package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Op is a remote operation.
type Op uint8

// Remote operations.
const (
	OpGet Op = iota
	OpCreate
	OpPut
	OpDelete
	OpTouch
	NumOps
)

var opNames = [NumOps]string{"get", "create", "put", "delete", "touch"}

// String returns the op's label value.
func (o Op) String() string { return opNames[o] }

// Result is how a remote request ended.
type Result uint8

// Remote results.
const (
	ResultOK Result = iota
	ResultNotFound
	ResultConflict
	ResultError
	NumResults
)

var resultNames = [NumResults]string{"ok", "not_found", "conflict", "error"}

// String returns the result's label value.
func (r Result) String() string { return resultNames[r] }

// Snapshot is every counter of one tier.Store at one moment. Counters only
// grow; LocalEntries, LocalBytes, LocalCapacity, LocalMaxBytes,
// BusQueueDepth, BreakerOpen and BusLive are gauges.
type Snapshot struct {
	LocalHits, LocalMisses, LocalNegativeHits uint64
	LocalEvictions, LocalExpirations          uint64
	// LocalRejections counts sessions read after a miss that the local
	// tier's admission filter did not cache (tier.Options.LocalAdmission).
	LocalRejections uint64
	LocalEntries    int
	// LocalBytes is the heap the local tier's entries take now, as
	// local.Options.MaxBytes counts it; LocalCapacity the most entries it holds (tier.Options.
	// LocalCapacity) and LocalMaxBytes its byte cap (tier.Options.
	// LocalMaxBytes, 0: none).
	LocalBytes    int64
	LocalCapacity int
	LocalMaxBytes int64

	SharedLoads uint64
	Remote      [NumOps][NumResults]uint64

	Conflicts, UpdateRetries, TouchSkipped uint64
	StaleServed                            uint64

	BusPublished, BusReceived, BusApplied, BusIgnored uint64
	BusDropped, BusPurges, BusGaps                    uint64
	// BusRejected counts bus messages dropped because they did not decode
	// or did not authenticate.
	BusRejected uint64
	// BusSubscribeErrors counts failed attempts to subscribe to the bus.
	BusSubscribeErrors uint64
	// LoadsRejected counts misses refused because MaxConcurrentLoads
	// remote reads were in flight; BreakerRejected those refused because
	// the circuit breaker on remote reads was open.
	LoadsRejected, BreakerRejected uint64
	// BreakerOpen is whether the circuit breaker on remote reads is open
	// or half-open now (a gauge).
	BreakerOpen bool
	// BusConfigured is whether the store has a bus; BusLive whether its
	// subscription is live now (a gauge, exported only with a bus).
	BusConfigured, BusLive bool
	// BusQueueDepth is the number of invalidation events waiting in the
	// bus's publish queue now (a gauge, exported only with a bus; always
	// 0 for a bus without a queue).
	BusQueueDepth int
}

// RemoteRequests sums Remote over results for op.
func (s Snapshot) RemoteRequests(op Op) uint64 {
	var n uint64
	for _, v := range s.Remote[op] {
		n += v
	}
	return n
}

// Options configures a Collector. The zero value is ready to use.
type Options struct {
	// Namespace prefixes every metric name. Default: "tiersession".
	Namespace string
	// ConstLabels are added to every metric, e.g. {"store": "sessions"}
	// to tell several stores in one process apart. Default: none.
	ConstLabels prometheus.Labels
	// Buckets are the remote latency histogram's bucket bounds in seconds.
	// Default: LatencyBuckets(5s), 100µs to about 6.6s. tier.Store passes
	// LatencyBuckets(LoadTimeout), so that reads cut off by LoadTimeout
	// land in a bucket of their own.
	Buckets []float64
}

// Collector exports one store's figures. Create it with New; a nil
// *Collector is valid and records nothing.
type Collector struct {
	snapshot func() Snapshot
	latency  [NumOps]prometheus.Observer
	vec      *prometheus.HistogramVec
	descs    descs
}

var _ prometheus.Collector = (*Collector)(nil)

// New builds a Collector that reads snapshot at each scrape and registers it
// on reg. snapshot must be safe to call from any goroutine.
func New(reg prometheus.Registerer, opts Options, snapshot func() Snapshot) (*Collector, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil Registerer")
	}
	if snapshot == nil {
		return nil, errors.New("metrics: nil snapshot function")
	}
	if opts.Namespace == "" {
		opts.Namespace = "tiersession"
	}
	if opts.Buckets == nil {
		opts.Buckets = LatencyBuckets(5 * time.Second)
	}
	c := &Collector{
		snapshot: snapshot,
		descs:    newDescs(opts.Namespace, opts.ConstLabels),
		vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   opts.Namespace,
			Name:        "remote_request_duration_seconds",
			Help:        "Latency of remote (source of truth) requests.",
			ConstLabels: opts.ConstLabels,
			Buckets:     opts.Buckets,
		}, []string{"op"}),
	}
	for op := range NumOps {
		c.latency[op] = c.vec.WithLabelValues(op.String())
	}
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

// ObserveRemote records the latency of one remote request.
func (c *Collector) ObserveRemote(op Op, d time.Duration) {
	if c == nil {
		return
	}
	c.latency[op].Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.descs.describe(ch)
	c.vec.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.descs.collect(ch, c.snapshot())
	c.vec.Collect(ch)
}

// LatencyBuckets returns latency histogram bounds in seconds from 100µs,
// doubling, up to the first bound above max: a request that takes max, a
// timeout, lands below the last bound, and the +Inf bucket holds only
// what overran it. For max 5s that is 17 bounds, 100µs to about 6.6s.
func LatencyBuckets(max time.Duration) []float64 {
	const first = 100 * time.Microsecond
	n := 1
	for b := first; b <= max && n < 40; b *= 2 { // 40: past any Duration
		n++
	}
	return prometheus.ExponentialBuckets(first.Seconds(), 2, n)
}
