package metrics

import "github.com/prometheus/client_golang/prometheus"

// counter is one counter read from a Snapshot.
type counter struct {
	desc *prometheus.Desc
	read func(*Snapshot) uint64
}

// descs holds the descriptors of everything read from a Snapshot.
type descs struct {
	counters    []counter
	entries     *prometheus.Desc
	bytes       *prometheus.Desc
	capacity    *prometheus.Desc
	maxBytes    *prometheus.Desc
	remote      *prometheus.Desc
	breakerOpen *prometheus.Desc
	busLive     *prometheus.Desc
	busQueue    *prometheus.Desc
}

func newDescs(ns string, labels prometheus.Labels) descs {
	c := func(name, help string, read func(*Snapshot) uint64) counter {
		return counter{prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, labels), read}
	}
	return descs{
		counters: []counter{
			c("local_hits_total", "Local tier hits.", func(s *Snapshot) uint64 { return s.LocalHits }),
			c("local_misses_total", "Local tier misses (absent or expired).", func(s *Snapshot) uint64 { return s.LocalMisses }),
			c("local_negative_hits_total", "Answers served from a cached not-found.", func(s *Snapshot) uint64 { return s.LocalNegativeHits }),
			c("local_evictions_total", "Local entries evicted for capacity.", func(s *Snapshot) uint64 { return s.LocalEvictions }),
			c("local_expirations_total", "Local entries dropped because they expired.", func(s *Snapshot) uint64 { return s.LocalExpirations }),
			c("local_admission_rejections_total", "Sessions read after a miss that the local admission filter did not cache.", func(s *Snapshot) uint64 { return s.LocalRejections }),
			c("singleflight_shared_total", "Misses served by another caller's remote load.", func(s *Snapshot) uint64 { return s.SharedLoads }),
			c("conflicts_total", "Version conflicts seen by writes.", func(s *Snapshot) uint64 { return s.Conflicts }),
			c("update_retries_total", "Update attempts retried after a conflict.", func(s *Snapshot) uint64 { return s.UpdateRetries }),
			c("stale_served_total", "Reads answered with a stale local copy because the remote failed (StaleIfError).", func(s *Snapshot) uint64 { return s.StaleServed }),
			c("touch_skipped_total", "Touch calls served without a remote write (throttled).", func(s *Snapshot) uint64 { return s.TouchSkipped }),
			c("bus_published_total", "Invalidation events published.", func(s *Snapshot) uint64 { return s.BusPublished }),
			c("bus_received_total", "Invalidation events received.", func(s *Snapshot) uint64 { return s.BusReceived }),
			c("bus_applied_total", "Received invalidation events that evicted a local copy.", func(s *Snapshot) uint64 { return s.BusApplied }),
			c("bus_ignored_total", "Received invalidation events ignored (own origin, or not newer).", func(s *Snapshot) uint64 { return s.BusIgnored }),
			c("bus_dropped_total", "Invalidation events dropped by a full publish queue.", func(s *Snapshot) uint64 { return s.BusDropped }),
			c("bus_purges_total", "Local tier purges after gaps in the invalidation stream (rate-limited).", func(s *Snapshot) uint64 { return s.BusPurges }),
			c("bus_gaps_total", "Gaps in the invalidation stream: the subscription was lost, came up, or overflowed.", func(s *Snapshot) uint64 { return s.BusGaps }),
			c("bus_rejected_total", "Bus messages dropped because they did not decode or authenticate.", func(s *Snapshot) uint64 { return s.BusRejected }),
			c("bus_subscribe_errors_total", "Failed attempts to subscribe to the invalidation bus.", func(s *Snapshot) uint64 { return s.BusSubscribeErrors }),
			c("loads_rejected_total", "Misses refused because MaxConcurrentLoads remote reads were in flight.", func(s *Snapshot) uint64 { return s.LoadsRejected }),
			c("breaker_rejected_total", "Misses refused because the circuit breaker on remote reads was open.", func(s *Snapshot) uint64 { return s.BreakerRejected }),
		},
		entries:     prometheus.NewDesc(prometheus.BuildFQName(ns, "", "local_entries"), "Entries in the local tier.", nil, labels),
		bytes:       prometheus.NewDesc(prometheus.BuildFQName(ns, "", "local_bytes"), "Heap taken by the local tier's entries: data, keys over 48 bytes, and 144 bytes of overhead each.", nil, labels),
		capacity:    prometheus.NewDesc(prometheus.BuildFQName(ns, "", "local_capacity"), "Most entries the local tier holds (LocalCapacity).", nil, labels),
		maxBytes:    prometheus.NewDesc(prometheus.BuildFQName(ns, "", "local_max_bytes"), "Byte cap of the local tier (LocalMaxBytes); 0 when there is none.", nil, labels),
		busQueue:    prometheus.NewDesc(prometheus.BuildFQName(ns, "", "bus_publish_queue_depth"), "Invalidation events waiting in the publish queue (only with a bus).", nil, labels),
		breakerOpen: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "breaker_open"), "1 while the circuit breaker on remote reads is open or half-open.", nil, labels),
		busLive:     prometheus.NewDesc(prometheus.BuildFQName(ns, "", "bus_connected"), "1 while the invalidation bus subscription is live (only with a bus).", nil, labels),
		remote:      prometheus.NewDesc(prometheus.BuildFQName(ns, "", "remote_requests_total"), "Remote requests by operation and result.", []string{"op", "result"}, labels),
	}
}

func (d *descs) describe(ch chan<- *prometheus.Desc) {
	for _, c := range d.counters {
		ch <- c.desc
	}
	ch <- d.entries
	ch <- d.bytes
	ch <- d.capacity
	ch <- d.maxBytes
	ch <- d.remote
	ch <- d.breakerOpen
	ch <- d.busLive
	ch <- d.busQueue
}

func (d *descs) collect(ch chan<- prometheus.Metric, s Snapshot) {
	for _, c := range d.counters {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.read(&s)))
	}
	ch <- prometheus.MustNewConstMetric(d.entries, prometheus.GaugeValue, float64(s.LocalEntries))
	ch <- prometheus.MustNewConstMetric(d.bytes, prometheus.GaugeValue, float64(s.LocalBytes))
	ch <- prometheus.MustNewConstMetric(d.capacity, prometheus.GaugeValue, float64(s.LocalCapacity))
	ch <- prometheus.MustNewConstMetric(d.maxBytes, prometheus.GaugeValue, float64(s.LocalMaxBytes))
	ch <- prometheus.MustNewConstMetric(d.breakerOpen, prometheus.GaugeValue, gauge(s.BreakerOpen))
	if s.BusConfigured {
		ch <- prometheus.MustNewConstMetric(d.busLive, prometheus.GaugeValue, gauge(s.BusLive))
		ch <- prometheus.MustNewConstMetric(d.busQueue, prometheus.GaugeValue, float64(s.BusQueueDepth))
	}
	for op := range NumOps {
		for res := range NumResults {
			ch <- prometheus.MustNewConstMetric(d.remote, prometheus.CounterValue, float64(s.Remote[op][res]), op.String(), res.String())
		}
	}
}

// gauge is a boolean as a gauge's value.
func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
