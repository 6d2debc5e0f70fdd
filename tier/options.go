package tier

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiersession/tiersession/invalidation"
)

// Options configures a Store. The zero value of every field means its
// default.
type Options struct {
	// LocalCapacity is how many sessions the local tier holds at most
	// (live and "not found" entries together). Default: 10000.
	LocalCapacity int
	// LocalMaxBytes, when positive, also caps the heap the local tier's
	// entries take: each counts its payload and local.EntryOverhead (144)
	// bytes, plus its key when longer than 48 bytes (see
	// local.Options.MaxBytes). Default: 0, no byte cap.
	LocalMaxBytes int64
	// LocalAdmission, when set, lets the local tier refuse to cache a
	// session read after a miss when caching it would evict a session
	// requested more often (TinyLFU; see local.Options.Admission). On
	// skewed traffic this raises the hit ratio of a small local tier;
	// each local read then costs two atomic updates more. Sessions this
	// node writes are always cached. Default: false.
	LocalAdmission bool
	// LocalTTL is how long a session may be served from the local tier
	// before it is read from the remote again. It bounds staleness on
	// other nodes when invalidation messages are lost. An entry never
	// outlives its record's ExpiresAt either. Default: 5s.
	LocalTTL time.Duration
	// NegativeTTL is how long "not found" is remembered, so that random or
	// forged keys do not cost one remote read each. Default: 1s.
	NegativeTTL time.Duration
	// StaleIfError, when positive, lets a read whose remote request fails
	// (DynamoDB unreachable, throttled, LoadTimeout) or is refused
	// (MaxConcurrentLoads, an open breaker), or whose caller has spent 90%
	// of its deadline waiting, return the local copy instead of the
	// error, if that copy's LocalTTL ran out less than StaleIfError ago and
	// the record itself has not expired. Such answers are counted
	// (tiersession_stale_served_total). Default: 0, errors are returned.
	StaleIfError time.Duration
	// LoadTimeout bounds a remote read made for a miss. The read is shared
	// by every caller waiting on the key, so no caller's context can cancel
	// it; each caller still returns when its own context ends. A read that
	// runs out of LoadTimeout fails with ErrUnavailable. Default: 5s.
	//
	// With StaleIfError on, a caller whose context has a deadline waits for
	// the read only 90% of the time it had left; then it gets the stale
	// copy, if there is one, instead of its own DeadlineExceeded.
	LoadTimeout time.Duration
	// MaxConcurrentLoads bounds the remote reads the Store makes at once
	// (shared loads and Update's reloads). Past it a miss fails fast with
	// ErrUnavailable (or gets a stale copy, see StaleIfError) and is
	// counted (tiersession_loads_rejected_total), so a flood of distinct
	// unknown keys against a slow remote cannot pile up goroutines and
	// connections. Default: 256. Negative: no bound.
	MaxConcurrentLoads int
	// BreakerFailures is how many remote reads in a row must fail
	// (errors, timeouts) to open the circuit breaker on remote reads.
	// While it is open, misses do not wait for a remote that is known to
	// be failing: they fail fast with ErrUnavailable, or get a stale copy
	// (see StaleIfError), and are counted
	// (tiersession_breaker_rejected_total). After BreakerOpenFor one read
	// probes the remote; its success closes the breaker. Writes are never
	// refused by the breaker. Default: 5. Negative: no breaker.
	BreakerFailures int
	// BreakerOpenFor is how long the circuit breaker stays open before it
	// lets one read probe the remote. Default: 1s.
	BreakerOpenFor time.Duration
	// MaxUpdateRetries is how many times Update retries after a version
	// conflict before returning ErrConflict. Default: 5.
	MaxUpdateRetries int
	// TouchInterval throttles Touch: when the cached record already
	// expires no more than TouchInterval before the requested time, Touch
	// answers from the local tier without writing. Default: 1 minute.
	// Negative: never throttle.
	TouchInterval time.Duration
	// OwnerTTL is how long the Store trusts an owner's revocation
	// generation it read from the remote (see DestroyAll): loading an
	// owned session whose owner's generation was read longer ago reads it
	// again, one strongly consistent read shared by the owner's loads. A
	// node that misses the Revoked event of another node's DestroyAll
	// stops serving the owner's sessions within OwnerTTL + LocalTTL.
	// Default: LocalTTL.
	OwnerTTL time.Duration

	// Bus carries invalidations between nodes: the Store publishes every
	// successful write and evicts its own copies on events from others.
	// Default: nil, a single node. The Store does not close the Bus.
	Bus invalidation.Bus
	// BusWait is how long New waits for the Bus subscription before it
	// returns anyway. The Store keeps trying in the background; until the
	// subscription is live it serves as a single node does (other nodes'
	// writes reach it within LocalTTL), and when it comes up the local tier
	// is purged. Default: 2s. Negative: do not wait.
	BusWait time.Duration
	// MinPurgeInterval rate-limits the purges of the local tier that bus
	// gaps cause: a gap less than MinPurgeInterval after the last purge is
	// served by one purge at the end of the interval. Default: 1s.
	MinPurgeInterval time.Duration
	// Origin names this node on the Bus; events it published itself are
	// ignored when they come back. Default: 16 random bytes, hex.
	Origin string

	// Registerer, when set, receives this Store's Prometheus collector
	// (see package metrics). Default: nil, no metrics.
	Registerer prometheus.Registerer
	// MetricLabels are constant labels on every metric of this Store, to
	// tell several Stores on one Registerer apart. Default: none.
	MetricLabels prometheus.Labels

	// Now is the clock for expiry decisions. Default: the local tier's
	// coarse clock (about 1ms resolution, no time.Now on a hit). Tests
	// inject a manual clock.
	Now func() time.Time
}

// ErrBadOptions is returned by New for option values it cannot use.
var ErrBadOptions = errors.New("tier: bad options")

func (o *Options) setDefaults() error {
	if o.LocalCapacity < 0 || o.LocalMaxBytes < 0 || o.StaleIfError < 0 || o.LocalTTL < 0 || o.NegativeTTL < 0 || o.LoadTimeout < 0 || o.MaxUpdateRetries < 0 || o.BreakerOpenFor < 0 || o.MinPurgeInterval < 0 || o.OwnerTTL < 0 {
		return fmt.Errorf("%w: negative capacity, byte cap, TTL, timeout, interval or retry count", ErrBadOptions)
	}
	if o.MaxConcurrentLoads == 0 {
		o.MaxConcurrentLoads = 256
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerOpenFor == 0 {
		o.BreakerOpenFor = time.Second
	}
	if o.BusWait == 0 {
		o.BusWait = 2 * time.Second
	}
	if o.MinPurgeInterval == 0 {
		o.MinPurgeInterval = time.Second
	}
	if o.LocalCapacity == 0 {
		o.LocalCapacity = 10000
	}
	if o.LocalTTL == 0 {
		o.LocalTTL = 5 * time.Second
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = time.Second
	}
	if o.LoadTimeout == 0 {
		o.LoadTimeout = 5 * time.Second
	}
	if o.MaxUpdateRetries == 0 {
		o.MaxUpdateRetries = 5
	}
	if o.TouchInterval == 0 {
		o.TouchInterval = time.Minute
	}
	if o.OwnerTTL == 0 {
		o.OwnerTTL = o.LocalTTL
	}
	return nil
}
