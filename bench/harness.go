package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/remote"
)

// Run fills the remote with cfg.Sessions sessions, then measures each
// system in turn on the same workload and the same remote — remote only,
// tiered with one node, tiered with cfg.Nodes nodes, and Redis when
// cfg.Redis is set — and finally sweeps the one-node tiered system over
// local capacities. It returns the report; writing it is the caller's.
//
// Every system sees the same request sequence (same seed), and the remote
// keeps its state from one system to the next: only versions move.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	w, _ := LookupWorkload(c.Workload)
	chooser, err := NewKeyChooser(c.Dist, c.Sessions, c.Zipf)
	if err != nil {
		return nil, err
	}

	var rc *redis.Client
	if c.Redis != "" {
		rc = redis.NewClient(&redis.Options{Addr: c.Redis, PoolSize: c.Concurrency + 16})
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("bench: redis at %s: %w", c.Redis, err)
		}
	}

	inner := c.Remote
	if inner == nil {
		var latency func(write bool) time.Duration
		if !c.Latency.Zero() {
			latency = c.Latency.sample
		}
		inner = remote.NewMemory(remote.MemoryOptions{Latency: latency})
	}
	meter := NewMeter(inner)
	set := newSessionSet(c.Sessions, c.Payload, c.Seed, time.Now())
	cost := NewCostModel(c.Prices, len(set.keys[0]), c.Payload, c.ConsistentRead)
	rep := newReport(c, w, chooser, cost, capacity(c.Sessions, c.LocalFraction), rc != nil)

	ph := &phases{progress: c.Progress, steps: 1 + 2}
	if c.Nodes > 1 {
		ph.steps++
	}
	if rc != nil {
		ph.steps++
	}
	if !c.SkipSweep {
		ph.steps += len(c.SweepFractions)
	}

	// Preload straight into the remote: no latency model, no counting.
	tick := ph.begin("preload")
	err = preload(ctx, inner, set, c.PreloadConcurrency, func(done int64) {
		tick(float64(done)/float64(len(set.keys)), done)
	})
	if err != nil {
		return nil, err
	}
	ph.end(fmt.Sprintf("%d sessions of %d bytes in %s", len(set.keys), c.Payload, c.RemoteName))

	params := runParams{
		workload: w, keys: chooser, sessionKeys: set.keys, concurrency: c.Concurrency,
		warmup: c.Warmup, warmupMax: warmupMax(c.Warmup, c.LocalTTL), duration: c.Duration, maxOps: c.MaxOps, seed: c.Seed,
	}
	localCap := capacity(c.Sessions, c.LocalFraction)
	build := []func() (*system, error){
		func() (*system, error) { return newRemoteOnly(meter, c.RemoteName), nil },
		func() (*system, error) {
			return newTiered(SystemTiered, fmt.Sprintf("one node, local tier of %d sessions in front of %s", localCap, c.RemoteName),
				meter, 1, localCap, tierOptions(c), nil)
		},
	}
	if c.Nodes > 1 {
		build = append(build, func() (*system, error) {
			var buses busFactory
			closeBus, busName := func() error { return nil }, "in-process"
			if rc != nil {
				buses, busName = redisBus(rc), "Redis"
			} else {
				buses, closeBus = localBus()
			}
			sys, err := newTiered(tieredName(c.Nodes), fmt.Sprintf("%d nodes, local tier of %d sessions each, sharing %s; %s invalidation bus; requests spread at random",
				c.Nodes, localCap, c.RemoteName, busName), meter, c.Nodes, localCap, tierOptions(c), buses)
			if err != nil {
				return nil, errors.Join(err, closeBus())
			}
			inner := sys.close
			sys.close = func() error { return errors.Join(inner(), closeBus()) }
			return sys, nil
		})
	}
	if rc != nil {
		build = append(build, func() (*system, error) {
			return newRedisSystem(ctx, rc, set.keys, set.data, set.expiry)
		})
	}
	for _, b := range build {
		sys, err := b()
		if err != nil {
			return nil, err
		}
		res, err := runSystem(ctx, ph, sys, params, cost)
		if err != nil {
			return nil, err
		}
		rep.Systems = append(rep.Systems, res)
	}
	compare(rep.Systems, rep.Systems[0])

	if !c.SkipSweep {
		sp := params
		sp.warmup, sp.warmupMax, sp.duration = c.SweepWarmup, warmupMax(c.SweepWarmup, c.LocalTTL), c.SweepDuration
		for _, f := range c.SweepFractions {
			n := capacity(c.Sessions, f)
			sys, err := newTiered(fmt.Sprintf("sweep %g%%", 100*f), "", meter, 1, n, tierOptions(c), nil)
			if err != nil {
				return nil, err
			}
			sp.tick = ph.begin(sys.name)
			m, err := measure(ctx, sys, sp)
			err = errors.Join(err, sys.close())
			if err != nil {
				return nil, err
			}
			pt := sweepPoint(f, n, m)
			rep.Sweep = append(rep.Sweep, pt)
			ph.end(fmt.Sprintf("capacity %d: hit ratio %.1f%%, %.0f remote reads/1000 ops", n, 100*pt.HitRatio, pt.RemoteReadsPer1000))
		}
	}
	return rep, nil
}

// warmupMax is how long a system with caches may warm up: until its
// local tiers are full, but no longer than one local TTL, after which the
// tier is in its steady state (the first entries start to expire). No
// warm-up at all when the minimum is none.
func warmupMax(least, ttl time.Duration) time.Duration {
	if least <= 0 {
		return 0
	}
	return max(least, ttl)
}

// runSystem measures one system and closes it.
func runSystem(ctx context.Context, ph *phases, sys *system, p runParams, cost CostModel) (SystemResult, error) {
	p.tick = ph.begin(sys.name)
	m, err := measure(ctx, sys, p)
	if err = errors.Join(err, sys.close()); err != nil {
		return SystemResult{}, fmt.Errorf("bench: %s: %w", sys.name, err)
	}
	res := summarize(sys, m, cost)
	ph.end(fmt.Sprintf("%s ops/s, p50 %s, p99 %s", formatCount(res.Throughput), formatMicros(res.Latency.P50), formatMicros(res.Latency.P99)))
	return res, nil
}

// phases reports progress phase by phase.
type phases struct {
	progress    func(Progress)
	step, steps int
	name        string
	ops         int64
}

// begin starts the next phase and returns its tick function.
func (p *phases) begin(name string) func(done float64, ops int64) {
	p.step++
	p.name, p.ops = name, 0
	tick := func(done float64, ops int64) {
		p.ops = ops
		if p.progress != nil {
			p.progress(Progress{Step: p.step, Steps: p.steps, Phase: name, Done: done, Ops: ops})
		}
	}
	tick(0, 0)
	return tick
}

// end finishes the current phase with a one-line summary.
func (p *phases) end(summary string) {
	if p.progress != nil {
		p.progress(Progress{Step: p.step, Steps: p.steps, Phase: p.name, Done: 1, Ops: p.ops, Finished: true, Summary: summary})
	}
}

// newReport starts the report of a run configured by c.
func newReport(c Config, w Workload, keys KeyChooser, cost CostModel, localCap int, redisBus bool) *Report {
	mix := make(map[string]float64)
	for op, p := range w.Mix {
		if p > 0 {
			mix[Op(op).String()] = p
		}
	}
	bus := "in-process"
	if redisBus {
		bus = "redis"
	}
	if c.Nodes < 2 {
		bus = "none"
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return &Report{
		Schema:    ReportSchema,
		StartedAt: time.Now().UTC(),
		Env: Env{
			GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		},
		Config: ReportConfig{
			Workload:            w.Name,
			WorkloadDescription: w.Description,
			Mix:                 mix,
			Distribution:        keys.Name(),
			Sessions:            c.Sessions,
			PayloadBytes:        c.Payload,
			Concurrency:         c.Concurrency,
			DurationSeconds:     c.Duration.Seconds(),
			WarmupSeconds:       c.Warmup.Seconds(),
			MaxOps:              c.MaxOps,
			LocalFraction:       c.LocalFraction,
			LocalCapacity:       localCap,
			LocalTTLSeconds:     c.LocalTTL.Seconds(),
			Nodes:               c.Nodes,
			Seed:                c.Seed,
			Remote:              c.RemoteName,
			Bus:                 bus,
			Redis:               c.Redis,
			Latency: LatencyReport{
				Description: c.Latency.String(),
				ReadP50us:   us(c.Latency.ReadP50), ReadP99us: us(c.Latency.ReadP99),
				WriteP50us: us(c.Latency.WriteP50), WriteP99us: us(c.Latency.WriteP99),
			},
		},
		Cost:    cost,
		Systems: []SystemResult{},
		Sweep:   []SweepPoint{},
	}
}
