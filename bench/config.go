package bench

import (
	"fmt"
	"math"
	"time"

	"github.com/tiersession/tiersession/remote"
)

// Config configures one harness run. The zero value of every field means
// its default, given with the field; DefaultConfig returns them all.
type Config struct {
	// Workload names the operation mix: "a", "b", "c", "f" or "web"
	// (see Workloads). Default "b" (YCSB B, 95% reads).
	Workload string
	// Dist is the key distribution, DistZipf or DistUniform. Default
	// DistZipf.
	Dist string
	// Zipf is the zipfian constant, in (0, 1). Default 0.99.
	Zipf float64
	// Sessions is how many sessions exist. Default 100000.
	Sessions int
	// Payload is the size of a session's data in bytes. Default 1024.
	Payload int
	// Concurrency is the number of closed-loop clients (requests in
	// flight), shared out over a system's nodes, at most MaxConcurrency.
	// Default 64.
	Concurrency int
	// Duration is the measured time per system. Default 4s.
	Duration time.Duration
	// Warmup is the least time each system runs unmeasured first. The
	// tiered systems go on warming until every node's local tier is full,
	// or for at most one LocalTTL, so they are measured in their steady
	// state. Default 500ms; negative: no warm-up at all.
	Warmup time.Duration
	// MaxOps caps the recorded operations per system (and per sweep
	// point) on top of Duration. Default 0: no cap.
	MaxOps int64
	// LocalFraction is each node's local capacity as a fraction of
	// Sessions, in (0, 1]. Default 0.1.
	LocalFraction float64
	// LocalTTL is how long a node serves a session from its local tier
	// before reading the remote again. Default 5s (tier's default).
	LocalTTL time.Duration
	// Nodes is the node count of the multi-node tiered system; 1 leaves
	// that system out. Default 3.
	Nodes int
	// SweepFractions are the local capacities, as fractions of Sessions,
	// of the hit-ratio sweep. Default 0.01, 0.05, 0.10, 0.25 (past a
	// quarter, the local TTL rather than the capacity bounds the hits, and
	// a point takes a whole TTL to warm up).
	SweepFractions []float64
	// SkipSweep leaves out the hit-ratio sweep. Default false.
	SkipSweep bool
	// SweepDuration is the measured time of each sweep point. Default 1s.
	SweepDuration time.Duration
	// SweepWarmup is the least warm-up of each sweep point, which then
	// warms like a tiered system (see Warmup). Default 500ms; negative:
	// none.
	SweepWarmup time.Duration
	// Seed seeds every worker's random stream; equal seeds draw equal
	// request sequences. 0 is a seed like any other (DefaultConfig uses
	// 1).
	Seed uint64

	// Remote is the source of truth. Default nil: an in-memory remote
	// (remote.NewMemory) with Latency added to every call.
	Remote remote.Store
	// RemoteName describes Remote in the report. Default "memory" when
	// Remote is nil, "custom" otherwise.
	RemoteName string
	// Latency is the model added to the in-memory remote; it is ignored
	// when Remote is set. Default DefaultLatencyModel; set NoLatency for
	// none.
	Latency LatencyModel
	// NoLatency runs the in-memory remote without added latency.
	NoLatency bool
	// ConsistentRead tells the cost model that reads are strongly
	// consistent (twice the read units). It does not configure Remote.
	ConsistentRead bool
	// Prices are the DynamoDB prices. Default DefaultPrices().
	Prices Prices
	// PreloadConcurrency bounds the concurrent Creates that fill the
	// remote before measuring. Default 32.
	PreloadConcurrency int

	// Seal replaces the run with the sealing comparison: instead of the
	// usual systems, the remote-only system twice, over the same remote,
	// on sessions whose payloads are JSON documents of Payload bytes
	// (SealPayload is a realistic size): once with items stored
	// uncompressed and once sealed with zstd (seal.New's default), each
	// billed by the size of the items that reach the remote (a
	// NewSizingMeter below the seal.Store). No tiered system, no Redis, no
	// sweep. Default false.
	Seal bool
	// SealEncrypt adds AES-256-GCM, with a key made for the run, to both
	// systems of the Seal comparison: then the uncompressed one is
	// seal.New with DisableCompression. Without it, the uncompressed one
	// stores the JSON as it is. Default false.
	SealEncrypt bool

	// Redis is the address (host:port) of a Redis server. When set, the
	// multi-node tiered system uses it as its invalidation bus and a
	// fourth system uses it as the session store. Default "": none.
	// StartRedisServer starts a throwaway one.
	Redis string
	// RedisNote tells the report where the Redis server came from, or
	// why there is none (say, "redis-server is not on PATH"). Default "".
	RedisNote string

	// Progress, when set, is told how the run advances. It is called
	// from one goroutine at a time.
	Progress func(Progress)
}

// Progress describes how far a run has come.
type Progress struct {
	// Step is the number of the current phase, from 1; Steps is how many
	// phases the run has.
	Step, Steps int
	// Phase names the phase: "preload", a system's name, or
	// "sweep 10%".
	Phase string
	// Done is the fraction of the phase completed, in [0, 1].
	Done float64
	// Ops counts the operations (or preloaded sessions) so far in the
	// phase.
	Ops int64
	// Finished is set on the last call of a phase.
	Finished bool
	// Summary is a one-line result, set when Finished.
	Summary string
}

// MaxConcurrency bounds Config.Concurrency. Each client keeps its own
// latency histogram (about 250 KB, so that recording takes no lock) and,
// with Redis, a pooled connection; past a thousand clients the harness
// measures its own memory and scheduling, not the stores.
const MaxConcurrency = 1024

// Default values of Config.
var defaultSweep = []float64{0.01, 0.05, 0.10, 0.25}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		Workload:           "b",
		Dist:               DistZipf,
		Zipf:               0.99,
		Sessions:           100_000,
		Payload:            1024,
		Concurrency:        64,
		Duration:           4 * time.Second,
		Warmup:             500 * time.Millisecond,
		LocalFraction:      0.1,
		LocalTTL:           5 * time.Second,
		Nodes:              3,
		SweepFractions:     append([]float64(nil), defaultSweep...),
		SweepDuration:      time.Second,
		SweepWarmup:        500 * time.Millisecond,
		Seed:               1,
		Latency:            DefaultLatencyModel,
		Prices:             DefaultPrices(),
		PreloadConcurrency: 32,
	}
}

// withDefaults returns c with zero fields replaced by their defaults and
// negative "none" values turned into zero.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setStr := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setStr(&c.Workload, d.Workload)
	setStr(&c.Dist, d.Dist)
	if c.Zipf == 0 {
		c.Zipf = d.Zipf
	}
	for _, f := range []struct{ v, def *int }{
		{&c.Sessions, &d.Sessions}, {&c.Payload, &d.Payload}, {&c.Concurrency, &d.Concurrency},
		{&c.Nodes, &d.Nodes}, {&c.PreloadConcurrency, &d.PreloadConcurrency},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.Duration, &d.Duration}, {&c.Warmup, &d.Warmup}, {&c.LocalTTL, &d.LocalTTL},
		{&c.SweepDuration, &d.SweepDuration}, {&c.SweepWarmup, &d.SweepWarmup},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	c.Warmup, c.SweepWarmup = max(c.Warmup, 0), max(c.SweepWarmup, 0)
	if c.LocalFraction == 0 {
		c.LocalFraction = d.LocalFraction
	}
	if c.SweepFractions == nil {
		c.SweepFractions = d.SweepFractions
	}
	if c.Latency == (LatencyModel{}) {
		c.Latency = d.Latency
	}
	if c.NoLatency || c.Remote != nil {
		c.Latency = LatencyModel{}
	}
	if c.Prices == (Prices{}) {
		c.Prices = d.Prices
	}
	if c.RemoteName == "" {
		c.RemoteName = "memory"
		if c.Remote != nil {
			c.RemoteName = "custom"
		}
	}
	return c
}

// Validate reports the first configuration value that cannot be used,
// after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := LookupWorkload(c.Workload); err != nil {
		return err
	}
	if _, err := NewKeyChooser(c.Dist, 1, c.Zipf); err != nil {
		return err
	}
	switch {
	case c.Sessions < 1:
		return fmt.Errorf("bench: sessions %d: need at least 1", c.Sessions)
	case c.Payload < 1 || c.Payload > remote.MaxDataSize(SessionKey(0)):
		return fmt.Errorf("bench: payload %d bytes: must be in [1, %d]", c.Payload, remote.MaxDataSize(SessionKey(0)))
	case c.Concurrency < 1:
		return fmt.Errorf("bench: concurrency %d: need at least 1", c.Concurrency)
	case c.Concurrency > MaxConcurrency:
		return fmt.Errorf("bench: concurrency %d: at most %d clients (each keeps a latency histogram of about 250 KB; past that the harness measures itself)",
			c.Concurrency, MaxConcurrency)
	case c.Duration < 0:
		return fmt.Errorf("bench: duration %v: must be positive", c.Duration)
	case c.MaxOps < 0:
		return fmt.Errorf("bench: max ops %d: must not be negative", c.MaxOps)
	case !(c.LocalFraction > 0 && c.LocalFraction <= 1):
		return fmt.Errorf("bench: local fraction %v: must be in (0, 1]", c.LocalFraction)
	case c.LocalTTL < 0:
		return fmt.Errorf("bench: local TTL %v: must be positive", c.LocalTTL)
	case c.Nodes < 1:
		return fmt.Errorf("bench: nodes %d: need at least 1", c.Nodes)
	case c.SweepDuration < 0:
		return fmt.Errorf("bench: sweep duration %v: must be positive", c.SweepDuration)
	case c.PreloadConcurrency < 1:
		return fmt.Errorf("bench: preload concurrency %d: need at least 1", c.PreloadConcurrency)
	case c.Seal && c.Payload < MinJSONPayload:
		return fmt.Errorf("bench: payload %d bytes: the sealing comparison's JSON sessions need at least %d", c.Payload, MinJSONPayload)
	case c.Seal && c.Redis != "":
		return fmt.Errorf("bench: the sealing comparison measures the remote-only system only; Redis does not take part")
	case c.SealEncrypt && !c.Seal:
		return fmt.Errorf("bench: SealEncrypt without Seal")
	}
	for _, f := range c.SweepFractions {
		if !(f > 0 && f <= 1) || math.IsNaN(f) {
			return fmt.Errorf("bench: sweep fraction %v: must be in (0, 1]", f)
		}
	}
	if err := c.Latency.Validate(); err != nil {
		return err
	}
	return c.Prices.Validate()
}

// capacity is a local capacity as a number of sessions: fraction of
// sessions, at least 1.
func capacity(sessions int, fraction float64) int {
	return max(1, int(math.Round(float64(sessions)*fraction)))
}
