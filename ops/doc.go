// Package ops holds what an operator deploys beside tiersession, as files
// rather than code:
//
//   - grafana-dashboard.json: a Grafana dashboard (Prometheus data source
//     chosen on import; job and instance filters) with the local hit
//     ratio, DynamoDB traffic, errors and latency, the local tier's
//     entries and bytes against its capacity, conflicts, the invalidation
//     bus (connected, events, gaps and purges, publish queue depth,
//     dropped and rejected messages) and overload protection (load limit,
//     circuit breaker, stale reads);
//   - alerts.yml: Prometheus alert rules for a disconnected bus, purge
//     storms, stale serving, conflict and remote error rates, a hit ratio
//     drop, refused loads, an open breaker, dropped and rejected bus
//     messages.
//
// Both use only the metrics listed in the documentation of package
// metrics. The tests here keep them honest: every metric they name must
// appear in a real scrape of a tier.Store with a bus, every dashboard
// query and rule must pass promtool, and testdata/alerts_test.yml checks
// with promtool that each alert fires when it should and only then.
package ops
