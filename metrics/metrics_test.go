package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tiersession/tiersession/metrics"
)

func TestCollector(t *testing.T) {
	snap := metrics.Snapshot{LocalHits: 7, LocalMisses: 2, LocalEntries: 5, BusDropped: 3,
		LocalBytes: 640, LocalCapacity: 100, BusConfigured: true, BusLive: true, BusQueueDepth: 12}
	snap.Remote[metrics.OpPut][metrics.ResultConflict] = 4
	reg := prometheus.NewRegistry()
	c, err := metrics.New(reg, metrics.Options{ConstLabels: prometheus.Labels{"store": "s"}}, func() metrics.Snapshot { return snap })
	if err != nil {
		t.Fatal(err)
	}
	c.ObserveRemote(metrics.OpGet, 3*time.Millisecond)
	want := `
# HELP tiersession_local_hits_total Local tier hits.
# TYPE tiersession_local_hits_total counter
tiersession_local_hits_total{store="s"} 7
# HELP tiersession_local_entries Entries in the local tier.
# TYPE tiersession_local_entries gauge
tiersession_local_entries{store="s"} 5
# HELP tiersession_bus_dropped_total Invalidation events dropped by a full publish queue.
# TYPE tiersession_bus_dropped_total counter
tiersession_bus_dropped_total{store="s"} 3
# HELP tiersession_local_bytes Heap taken by the local tier's entries: data, keys over 48 bytes, and 144 bytes of overhead each.
# TYPE tiersession_local_bytes gauge
tiersession_local_bytes{store="s"} 640
# HELP tiersession_local_capacity Most entries the local tier holds (LocalCapacity).
# TYPE tiersession_local_capacity gauge
tiersession_local_capacity{store="s"} 100
# HELP tiersession_local_max_bytes Byte cap of the local tier (LocalMaxBytes); 0 when there is none.
# TYPE tiersession_local_max_bytes gauge
tiersession_local_max_bytes{store="s"} 0
# HELP tiersession_bus_publish_queue_depth Invalidation events waiting in the publish queue (only with a bus).
# TYPE tiersession_bus_publish_queue_depth gauge
tiersession_bus_publish_queue_depth{store="s"} 12
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tiersession_local_hits_total", "tiersession_local_entries", "tiersession_bus_dropped_total",
		"tiersession_local_bytes", "tiersession_local_capacity", "tiersession_local_max_bytes",
		"tiersession_bus_publish_queue_depth"); err != nil {
		t.Fatal(err)
	}
	// Without a bus, the bus gauges are left out.
	noBus := prometheus.NewRegistry()
	if _, err := metrics.New(noBus, metrics.Options{}, func() metrics.Snapshot { return metrics.Snapshot{} }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tiersession_bus_connected", "tiersession_bus_publish_queue_depth"} {
		if n, err := testutil.GatherAndCount(noBus, name); err != nil || n != 0 {
			t.Errorf("%s without a bus: %d series (%v), want none", name, n, err)
		}
	}
	if n := testutil.CollectAndCount(c, "tiersession_remote_requests_total"); n != int(metrics.NumOps)*int(metrics.NumResults) {
		t.Fatalf("%d remote_requests_total series; want one per op and result (%d)", n, int(metrics.NumOps)*int(metrics.NumResults))
	}
	if n := testutil.CollectAndCount(c, "tiersession_remote_request_duration_seconds"); n != int(metrics.NumOps) {
		t.Fatalf("%d latency histograms; want one per op", n)
	}
	// A second collector with the same labels is refused; other labels fit.
	if _, err := metrics.New(reg, metrics.Options{ConstLabels: prometheus.Labels{"store": "s"}}, func() metrics.Snapshot { return snap }); err == nil {
		t.Fatal("registering a duplicate collector succeeded")
	}
	if _, err := metrics.New(reg, metrics.Options{ConstLabels: prometheus.Labels{"store": "t"}}, func() metrics.Snapshot { return snap }); err != nil {
		t.Fatalf("a second store with other labels: %v", err)
	}
}

func TestNilCollectorAndBadArgs(t *testing.T) {
	var c *metrics.Collector
	c.ObserveRemote(metrics.OpGet, time.Millisecond) // must not panic
	if _, err := metrics.New(nil, metrics.Options{}, func() metrics.Snapshot { return metrics.Snapshot{} }); err == nil {
		t.Fatal("New with a nil Registerer succeeded")
	}
	if _, err := metrics.New(prometheus.NewRegistry(), metrics.Options{}, nil); err == nil {
		t.Fatal("New with a nil snapshot succeeded")
	}
}

func TestSnapshotRemoteRequests(t *testing.T) {
	var s metrics.Snapshot
	s.Remote[metrics.OpGet][metrics.ResultOK] = 3
	s.Remote[metrics.OpGet][metrics.ResultNotFound] = 2
	s.Remote[metrics.OpPut][metrics.ResultOK] = 9
	if got := s.RemoteRequests(metrics.OpGet); got != 5 {
		t.Fatalf("RemoteRequests(get) = %d; want 5", got)
	}
}

func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		max       time.Duration
		n         int
		lastAbove time.Duration
	}{
		{5 * time.Second, 17, 5 * time.Second},
		{30 * time.Second, 20, 30 * time.Second},
		{100 * time.Microsecond, 2, 100 * time.Microsecond},
		{0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.max.String(), func(t *testing.T) {
			b := metrics.LatencyBuckets(tt.max)
			if len(b) != tt.n || b[0] != 100e-6 {
				t.Fatalf("LatencyBuckets(%v) = %v: %d bounds from %v, want %d from 100µs", tt.max, b, len(b), b[0], tt.n)
			}
			if last := b[len(b)-1]; last <= tt.lastAbove.Seconds() || (len(b) > 1 && b[len(b)-2] > tt.max.Seconds()) {
				t.Fatalf("LatencyBuckets(%v) ends at %v: want the first doubling above %v", tt.max, last, tt.max)
			}
		})
	}
}
