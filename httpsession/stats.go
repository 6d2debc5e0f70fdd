package httpsession

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of a Manager's counters. Counters only grow. None
// is touched by a request that finds its session and changes nothing, so
// the hot path shares no cache line between cores.
type Stats struct {
	// Malformed counts cookies refused by their form (length, alphabet,
	// non-canonical encoding) before any store read.
	Malformed uint64
	// Unknown counts well-formed tokens that named no live session
	// (forged, destroyed, idle-expired, or replaced past RenewGrace); the
	// request got a fresh session.
	Unknown uint64
	// Expired counts sessions the store still returned but whose
	// Lifetime had run out; the request got a fresh session.
	Expired uint64
	// Corrupt counts records that did not decode (another codec, a
	// damaged item); the request got a fresh session.
	Corrupt uint64
	// Adopted counts unknown tokens kept for a fresh session
	// (Options.AdoptUnknownTokens).
	Adopted uint64
	// Redirected counts requests whose token Renew had replaced, served
	// through the pointer within RenewGrace.
	Redirected uint64
	// Created counts sessions stored for the first time.
	Created uint64
	// Saved counts changed sessions saved at the version they were read.
	Saved uint64
	// Merged counts saves that met a version conflict and were merged
	// into the current session (store.Update).
	Merged uint64
	// Extended counts idle extensions made with a data write because the
	// store's Touch throttle is coarser than half the IdleTimeout.
	Extended uint64
	// Renewed and Destroyed count successful Renew and Destroy calls.
	Renewed, Destroyed uint64
	// Errors counts responses written by the ErrorHandler (load or save
	// failures).
	Errors uint64
	// TouchErrors counts idle extensions that failed (logged; the
	// response was not affected).
	TouchErrors uint64
	// LateSaveErrors counts changes made after the response started that
	// could not be saved (logged).
	LateSaveErrors uint64
}

// counters are the Manager's atomics behind Stats.
type counters struct {
	malformed, unknown, expired, corrupt, adopted, redirected atomic.Uint64
	created, saved, merged, extended, renewed, destroyed      atomic.Uint64
	failures, touchErrors, lateSaveErrors                     atomic.Uint64
}

// Stats returns the Manager's counters now.
func (m *Manager) Stats() Stats {
	c := &m.stats
	return Stats{
		Malformed:      c.malformed.Load(),
		Unknown:        c.unknown.Load(),
		Expired:        c.expired.Load(),
		Corrupt:        c.corrupt.Load(),
		Adopted:        c.adopted.Load(),
		Redirected:     c.redirected.Load(),
		Created:        c.created.Load(),
		Saved:          c.saved.Load(),
		Merged:         c.merged.Load(),
		Extended:       c.extended.Load(),
		Renewed:        c.renewed.Load(),
		Destroyed:      c.destroyed.Load(),
		Errors:         c.failures.Load(),
		TouchErrors:    c.touchErrors.Load(),
		LateSaveErrors: c.lateSaveErrors.Load(),
	}
}

// metric is one exported counter: its name after the
// tiersession_httpsession_ prefix, help, and where Stats keeps it.
type metric struct {
	name, help string
	value      func(Stats) uint64
}

var metricList = []metric{
	{"cookies_malformed_total", "Session cookies refused by their form, before any store read.", func(s Stats) uint64 { return s.Malformed }},
	{"tokens_unknown_total", "Well-formed tokens that named no live session.", func(s Stats) uint64 { return s.Unknown }},
	{"sessions_expired_total", "Sessions found past their Lifetime.", func(s Stats) uint64 { return s.Expired }},
	{"records_corrupt_total", "Session records that did not decode.", func(s Stats) uint64 { return s.Corrupt }},
	{"tokens_adopted_total", "Unknown tokens adopted for a fresh session (strict mode off).", func(s Stats) uint64 { return s.Adopted }},
	{"renewed_tokens_served_total", "Requests with a replaced token served within the renew grace.", func(s Stats) uint64 { return s.Redirected }},
	{"sessions_created_total", "Sessions stored for the first time.", func(s Stats) uint64 { return s.Created }},
	{"saves_total", "Changed sessions saved at the version read.", func(s Stats) uint64 { return s.Saved }},
	{"merges_total", "Saves merged into the current session after a version conflict.", func(s Stats) uint64 { return s.Merged }},
	{"idle_extensions_written_total", "Idle extensions written as data because the store's touch throttle is too coarse.", func(s Stats) uint64 { return s.Extended }},
	{"renewals_total", "Successful Renew calls.", func(s Stats) uint64 { return s.Renewed }},
	{"destroys_total", "Successful Destroy calls.", func(s Stats) uint64 { return s.Destroyed }},
	{"errors_total", "Responses written by the error handler.", func(s Stats) uint64 { return s.Errors }},
	{"touch_errors_total", "Idle extensions that failed.", func(s Stats) uint64 { return s.TouchErrors }},
	{"late_save_errors_total", "Changes made after the response started that were not saved.", func(s Stats) uint64 { return s.LateSaveErrors }},
}

// descs are the descriptors of metricList, in order; built once.
var descs = func() []*prometheus.Desc {
	d := make([]*prometheus.Desc, len(metricList))
	for i, mt := range metricList {
		d[i] = prometheus.NewDesc("tiersession_httpsession_"+mt.name, mt.help, nil, nil)
	}
	return d
}()

var _ prometheus.Collector = (*Manager)(nil)

// Describe implements prometheus.Collector: register a Manager to export
// its Stats as tiersession_httpsession_* counters. The figures are read at
// scrape time; no label ever holds a token or a storage key. Wrap the
// Registerer (prometheus.WrapRegistererWith) to tell several Managers
// apart.
func (m *Manager) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	st := m.Stats()
	for i, mt := range metricList {
		ch <- prometheus.MustNewConstMetric(descs[i], prometheus.CounterValue, float64(mt.value(st)))
	}
}
