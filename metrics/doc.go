// Package metrics exports tiersession's figures to Prometheus
// (client_golang), on a Registerer the caller chooses.
//
// Counting happens where the work happens: the local tier counts hits and
// misses in its shards, the tier counts remote requests, conflicts and bus
// events in its own atomics. This package reads those counters once per
// scrape through a snapshot function and turns them into Prometheus
// counters and gauges, so a cache hit pays nothing for metrics — no
// WithLabelValues, no shared atomic, no extra cache line. Only the remote
// request latency, measured once per remote call (milliseconds apart), is
// observed as it happens, into histograms whose children are resolved when
// the collector is built.
//
// # Metrics
//
// With the default namespace "tiersession":
//
//	tiersession_local_hits_total                 local tier hits
//	tiersession_local_misses_total               local tier misses (absent or expired)
//	tiersession_local_negative_hits_total        answers from a cached "not found"
//	tiersession_local_evictions_total            entries evicted for capacity
//	tiersession_local_expirations_total          entries dropped because they expired
//	tiersession_local_admission_rejections_total loaded sessions the admission filter did not cache
//	tiersession_local_entries                    entries cached now (gauge)
//	tiersession_local_bytes                      heap the cached entries take (see local.Options.MaxBytes) (gauge)
//	tiersession_local_capacity                   most entries the local tier holds (gauge)
//	tiersession_local_max_bytes                  byte cap of the local tier, 0 if none (gauge)
//	tiersession_singleflight_shared_total        misses served by another caller's load
//	tiersession_remote_requests_total{op,result} remote requests by operation and result
//	tiersession_remote_request_duration_seconds{op}  remote latency (histogram)
//	tiersession_conflicts_total                  version conflicts seen by writes
//	tiersession_update_retries_total             Update attempts retried after a conflict
//	tiersession_touch_skipped_total              Touch calls served without a write (throttled)
//	tiersession_stale_served_total               reads answered with a stale copy as the remote failed
//	tiersession_bus_published_total              invalidation events published
//	tiersession_bus_received_total               invalidation events received
//	tiersession_bus_applied_total                received events that evicted a local copy
//	tiersession_bus_ignored_total                received events ignored (own origin, or not newer)
//	tiersession_bus_dropped_total                events dropped by a full publish queue
//	tiersession_bus_purges_total                 local purges after bus gaps (rate-limited)
//	tiersession_bus_gaps_total                   gaps: the subscription was lost, came up, or overflowed
//	tiersession_bus_rejected_total               bus messages dropped: undecodable or unauthenticated
//	tiersession_bus_subscribe_errors_total       failed attempts to subscribe to the bus
//	tiersession_bus_connected                    1 while the bus subscription is live (gauge, with a bus)
//	tiersession_bus_publish_queue_depth          events waiting in the publish queue (gauge, with a bus)
//	tiersession_loads_rejected_total             misses refused: MaxConcurrentLoads reads in flight
//	tiersession_breaker_rejected_total           misses refused: circuit breaker on remote reads open
//	tiersession_breaker_open                     1 while that breaker is open or half-open (gauge)
//
// op is one of get, create, put, delete, touch; result one of ok,
// not_found, conflict, error.
package metrics
