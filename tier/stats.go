package tier

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/metrics"
	"github.com/tiersession/tiersession/remote"
)

// Stats is a snapshot of a Store's counters (see package metrics for what
// each one counts).
type Stats = metrics.Snapshot

// counters are the Store's own counters, off the hit path: each is touched
// at most once per remote request or bus event.
type counters struct {
	remote                                 [metrics.NumOps][metrics.NumResults]atomic.Uint64
	sharedLoads                            atomic.Uint64
	conflicts, updateRetries, touchSkipped atomic.Uint64
	staleServed                            atomic.Uint64
	busPublished, busReceived              atomic.Uint64
	busApplied, busIgnored, busPurges      atomic.Uint64
	busPublishErrors, busGaps              atomic.Uint64
	busSubscribeErrors                     atomic.Uint64
	loadsRejected, breakerRejected         atomic.Uint64
}

// Stats returns the Store's counters now.
func (s *Store) Stats() Stats {
	ls := s.local.Stats()
	st := Stats{
		LocalHits:          ls.Hits,
		LocalMisses:        ls.Misses,
		LocalNegativeHits:  ls.NegativeHits,
		LocalEvictions:     ls.Evictions,
		LocalExpirations:   ls.Expirations,
		LocalRejections:    ls.Rejections,
		LocalEntries:       ls.Entries,
		LocalBytes:         s.local.Bytes(),
		LocalCapacity:      s.opts.LocalCapacity,
		LocalMaxBytes:      s.opts.LocalMaxBytes,
		SharedLoads:        s.stats.sharedLoads.Load(),
		Conflicts:          s.stats.conflicts.Load(),
		UpdateRetries:      s.stats.updateRetries.Load(),
		TouchSkipped:       s.stats.touchSkipped.Load(),
		StaleServed:        s.stats.staleServed.Load(),
		BusPublished:       s.stats.busPublished.Load(),
		BusReceived:        s.stats.busReceived.Load(),
		BusApplied:         s.stats.busApplied.Load(),
		BusIgnored:         s.stats.busIgnored.Load(),
		BusPurges:          s.stats.busPurges.Load(),
		BusGaps:            s.stats.busGaps.Load(),
		BusSubscribeErrors: s.stats.busSubscribeErrors.Load(),
		LoadsRejected:      s.stats.loadsRejected.Load(),
		BreakerRejected:    s.stats.breakerRejected.Load(),
		BreakerOpen:        s.breaker != nil && s.breaker.State() != gobreaker.StateClosed,
		BusConfigured:      s.opts.Bus != nil,
		BusLive:            s.BusLive(),
	}
	for op := range metrics.NumOps {
		for res := range metrics.NumResults {
			st.Remote[op][res] = s.stats.remote[op][res].Load()
		}
	}
	if b, ok := s.opts.Bus.(interface{ Stats() invalidation.Stats }); ok {
		bs := b.Stats()
		st.BusDropped = bs.Dropped
		st.BusRejected = bs.DecodeErrors + bs.AuthFailures
		st.BusQueueDepth = bs.QueueDepth
	}
	return st
}

// observe counts one remote request and records its latency.
func (s *Store) observe(op metrics.Op, start time.Time, res metrics.Result) {
	s.stats.remote[op][res].Add(1)
	s.metrics.ObserveRemote(op, time.Since(start))
}

func readResult(found bool, err error) metrics.Result {
	switch {
	case err != nil:
		return metrics.ResultError
	case !found:
		return metrics.ResultNotFound
	}
	return metrics.ResultOK
}

func writeResult(err error) metrics.Result {
	switch {
	case err == nil:
		return metrics.ResultOK
	case errors.Is(err, remote.ErrConflict):
		return metrics.ResultConflict
	case errors.Is(err, remote.ErrNotFound):
		return metrics.ResultNotFound
	}
	return metrics.ResultError
}
