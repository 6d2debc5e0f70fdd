package tier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tiersession/tiersession/metrics"
	"github.com/tiersession/tiersession/remote"
)

// validKey refuses, before anything else, a key that no remote can store
// faithfully (see remote.ValidKey).
var validKey = remote.ValidKey

// errBreakerOpen and errLoadLimit say why a remote read was not sent.
var (
	errBreakerOpen = fmt.Errorf("%w: remote reads are failing (circuit open)", ErrUnavailable)
	errLoadLimit   = fmt.Errorf("%w: too many remote reads in flight", ErrUnavailable)
)

// newBreaker returns the circuit breaker that guards remote reads, or nil
// when Options.BreakerFailures is negative.
func newBreaker(o Options) *gobreaker.CircuitBreaker[loaded] {
	if o.BreakerFailures < 0 {
		return nil
	}
	n := uint32(o.BreakerFailures)
	return gobreaker.NewCircuitBreaker[loaded](gobreaker.Settings{
		Name:        "tiersession-remote-reads",
		MaxRequests: 1, // one probe while half-open
		Timeout:     o.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= n },
		// Answers about the data, not about the remote's health.
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, remote.ErrCorrupt) || errors.Is(err, ErrInvalid)
		},
	})
}

// read is one remote read of key made by the Store itself: a shared load
// or the reload after a conflict. It is refused with ErrUnavailable,
// without a request, when MaxConcurrentLoads reads are already in flight
// or when the circuit breaker is open.
func (s *Store) read(ctx context.Context, key string, consistent bool) (Record, bool, error) {
	if max := s.opts.MaxConcurrentLoads; max > 0 {
		// Check and act are one atomic step: the Add both claims a slot
		// and tells whether one was free.
		if s.loading.Add(1) > int64(max) {
			s.loading.Add(-1)
			s.stats.loadsRejected.Add(1)
			return Record{}, false, errLoadLimit
		}
		defer s.loading.Add(-1)
	}
	do := func() (loaded, error) {
		start := time.Now()
		var rec Record
		var found bool
		var err error
		if cg, ok := s.remote.(remote.ConsistentGetter); ok && consistent {
			rec, found, err = cg.GetConsistent(ctx, key)
		} else {
			rec, found, err = s.remote.Get(ctx, key)
		}
		s.observe(metrics.OpGet, start, readResult(found, err))
		return loaded{rec, found}, err
	}
	var l loaded
	var err error
	if s.breaker == nil {
		l, err = do()
	} else {
		l, err = s.breaker.Execute(do)
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			s.stats.breakerRejected.Add(1)
			return Record{}, false, errBreakerOpen
		}
	}
	return l.rec, l.found, err
}
