package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

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
//
// The preload writes straight into the remote, and into Redis at the same
// time, without the latency model: it sets the stage and is not measured.
// A sweep capacity equal to the one-node tiered system's reuses that
// system's measurement instead of measuring it again.
//
// When ctx ends (an interrupt) or a phase fails, Run returns the report of
// the phases finished so far, marked incomplete, together with the error;
// it returns a nil report only for a configuration it refuses.
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

	if c.Seal {
		return runSeal(ctx, c, w, chooser)
	}

	// The in-memory remote's latency model is off while preloading.
	var modelOn atomic.Bool
	inner := newRemote(c, &modelOn)
	meter := NewMeter(inner)
	set := newSessionSet(c.Sessions, c.Payload, c.Seed, time.Now())
	cost := NewCostModel(c.Prices, len(set.keys[0]), c.Payload, c.ConsistentRead)
	localCap := capacity(c.Sessions, c.LocalFraction)
	rep := newReport(c, w, chooser, cost, localCap, c.Redis != "")

	ph := &phases{progress: c.Progress, steps: 1 + 2}
	if c.Nodes > 1 {
		ph.steps++
	}
	if c.Redis != "" {
		ph.steps++
	}
	if !c.SkipSweep {
		for _, f := range c.SweepFractions {
			if capacity(c.Sessions, f) != localCap {
				ph.steps++
			}
		}
	}
	// stop ends the run early with what was finished.
	stop := func(err error) (*Report, error) {
		compare(rep.Systems)
		rep.Complete, rep.StoppedDuring = false, ph.name
		return rep, err
	}

	var rc *redis.Client
	var rs *redisStore
	if c.Redis != "" {
		rc = redis.NewClient(&redis.Options{Addr: c.Redis, PoolSize: c.Concurrency + 16})
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return stop(fmt.Errorf("bench: redis at %s: %w", c.Redis, err))
		}
		rs = &redisStore{c: rc}
		// The sessions go in with the preload; they leave even when the
		// run is interrupted.
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = rs.cleanup(cctx, set.keys)
		}()
	}

	tick := ph.begin("preload")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return preload(gctx, inner, set, c.PreloadConcurrency, func(done int64) {
			tick(float64(done)/float64(len(set.keys)), done)
		})
	})
	if rs != nil {
		g.Go(func() error { return rs.preload(gctx, set.keys, set.data, set.expiry) })
	}
	if err := g.Wait(); err != nil {
		return stop(err)
	}
	modelOn.Store(true)
	into := c.RemoteName
	if rs != nil {
		into += " and Redis"
	}
	ph.end(fmt.Sprintf("%d sessions of %d bytes in %s", len(set.keys), c.Payload, into))

	params := runParams{
		workload: w, keys: chooser, sessionKeys: set.keys, concurrency: c.Concurrency,
		warmup: c.Warmup, warmupMax: warmupMax(c.Warmup, c.LocalTTL), duration: c.Duration, maxOps: c.MaxOps, seed: c.Seed,
	}
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
	if rs != nil {
		note := ""
		if !c.Latency.Zero() {
			// The model stands for the network to DynamoDB; Redis gets
			// none, as if it ran on each node.
			note = "real round trips to Redis; the remote's are modelled"
		}
		build = append(build, func() (*system, error) { return newRedisSystem(rs, note), nil })
	}
	tiered1 := -1                    // index of the one-node tiered system's result
	var tiered1Clients []clientCount // what its clients drew, for the sweep's simulation
	for _, b := range build {
		sys, err := b()
		if err != nil {
			return stop(err)
		}
		res, m, err := runSystem(ctx, ph, sys, params, cost)
		if err != nil {
			return stop(err)
		}
		rep.Systems = append(rep.Systems, res)
		if res.Name == SystemTiered {
			tiered1, tiered1Clients = len(rep.Systems)-1, m.clients
		}
	}
	compare(rep.Systems)

	if !c.SkipSweep {
		sp := params
		sp.warmup, sp.warmupMax, sp.duration = c.SweepWarmup, warmupMax(c.SweepWarmup, c.LocalTTL), c.SweepDuration
		for _, f := range c.SweepFractions {
			n := capacity(c.Sessions, f)
			if n == localCap && tiered1 >= 0 {
				// tiered-1's own clients drew its requests with the same
				// generator and seed as a sweep point's would.
				sim, err := simulate(params, n, tiered1Clients)
				if err != nil {
					return stop(err)
				}
				rep.Sweep = append(rep.Sweep, withSim(sweepPointOf(f, n, rep.Systems[tiered1]), sim))
				rep.SweepSimulation = sweepSimulation
				continue
			}
			sys, err := newTiered("sweep "+formatPercent(f), "", meter, 1, n, tierOptions(c), nil)
			if err != nil {
				return stop(err)
			}
			sp.tick = ph.begin(sys.name)
			m, err := measure(ctx, sys, sp)
			if err = errors.Join(err, sys.close()); err != nil {
				return stop(err)
			}
			// The simulation runs after the measurement, not beside it,
			// so that it takes no CPU from the system measured.
			sim, err := simulate(sp, n, m.clients)
			if err != nil {
				return stop(err)
			}
			pt := withSim(sweepPoint(f, n, m), sim)
			rep.Sweep = append(rep.Sweep, pt)
			rep.SweepSimulation = sweepSimulation
			ph.end(fmt.Sprintf("capacity %d: hit ratio %.1f%% (exact LRU %.1f%%, W-TinyLFU %.1f%%), %.0f remote reads/1000 ops",
				n, 100*pt.HitRatio, 100*sim.lru, 100*sim.tinyLFU, pt.RemoteReadsPer1000))
		}
	}
	rep.Complete = true
	return rep, nil
}

// newRemote returns c.Remote, or when it is nil the in-memory remote with
// c's latency model, which adds latency only while modelOn is set.
func newRemote(c Config, modelOn *atomic.Bool) remote.Store {
	if c.Remote != nil {
		return c.Remote
	}
	var latency func(write bool) time.Duration
	if !c.Latency.Zero() {
		latency = func(write bool) time.Duration {
			if !modelOn.Load() {
				return 0
			}
			return c.Latency.sample(write)
		}
	}
	return remote.NewMemory(remote.MemoryOptions{Latency: latency})
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

// runSystem measures one system and closes it. It returns the
// measurement too, for the sweep's simulation.
func runSystem(ctx context.Context, ph *phases, sys *system, p runParams, cost CostModel) (SystemResult, measurement, error) {
	p.tick = ph.begin(sys.name)
	m, err := measure(ctx, sys, p)
	if err = errors.Join(err, sys.close()); err != nil {
		return SystemResult{}, measurement{}, fmt.Errorf("bench: %s: %w", sys.name, err)
	}
	res := summarize(sys, m, cost)
	ph.end(fmt.Sprintf("%s ops/s, p50 %s, p99 %s", formatCount(res.Throughput), formatMicros(res.Latency.P50), formatMicros(res.Latency.P99)))
	return res, m, nil
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
			RedisNote:           c.RedisNote,
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
