package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// ReportSchema is the version of the JSON report's layout.
const ReportSchema = 3

// Report is everything one harness run measured. It is written as JSON
// (WriteJSON), as a terminal table (WriteTable) and as a chart (WriteSVG).
type Report struct {
	// Schema is ReportSchema.
	Schema int `json:"schema"`
	// StartedAt is when the run started.
	StartedAt time.Time `json:"started_at"`
	// Env describes the machine and toolchain.
	Env Env `json:"env"`
	// Config is the run's configuration, defaults filled in.
	Config ReportConfig `json:"config"`
	// Cost is the DynamoDB cost model the costs were computed with.
	Cost CostModel `json:"cost_model"`
	// Systems holds one result per system, "remote-only" first.
	Systems []SystemResult `json:"systems"`
	// Sweep holds the hit ratio of the one-node tiered store for each
	// local capacity tried, in the order given.
	Sweep []SweepPoint `json:"capacity_sweep"`
	// SweepSimulation says how the sweep's simulated hit ratios were
	// obtained (SweepPoint.SimLRUHitRatio); "" when none was.
	SweepSimulation string `json:"sweep_simulation"`
	// Complete is false when the run was interrupted (or failed) before
	// its last phase: Systems and Sweep then hold the phases finished.
	Complete bool `json:"complete"`
	// StoppedDuring names the phase an incomplete run stopped in.
	StoppedDuring string `json:"stopped_during"`
}

// Env describes where the run happened.
type Env struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// ReportConfig records the configuration of a run.
type ReportConfig struct {
	Workload            string             `json:"workload"`
	WorkloadDescription string             `json:"workload_description"`
	Mix                 map[string]float64 `json:"mix"`
	Distribution        string             `json:"distribution"`
	Sessions            int                `json:"sessions"`
	PayloadBytes        int                `json:"payload_bytes"`
	Concurrency         int                `json:"concurrency"`
	DurationSeconds     float64            `json:"duration_seconds"`
	WarmupSeconds       float64            `json:"warmup_seconds"`
	MaxOps              int64              `json:"max_ops"`
	LocalFraction       float64            `json:"local_fraction"`
	LocalCapacity       int                `json:"local_capacity"`
	LocalTTLSeconds     float64            `json:"local_ttl_seconds"`
	Nodes               int                `json:"nodes"`
	Seed                uint64             `json:"seed"`
	Remote              string             `json:"remote"`
	Bus                 string             `json:"bus"`
	Redis               string             `json:"redis"`
	RedisNote           string             `json:"redis_note"`
	// Seal describes the sealing comparison (Config.Seal); "" for the
	// usual run.
	Seal    string        `json:"seal"`
	Latency LatencyReport `json:"latency_model"`
}

// LatencyReport records the latency model of the in-memory remote.
type LatencyReport struct {
	Description string  `json:"description"`
	ReadP50us   float64 `json:"read_p50_us"`
	ReadP99us   float64 `json:"read_p99_us"`
	WriteP50us  float64 `json:"write_p50_us"`
	WriteP99us  float64 `json:"write_p99_us"`
}

// SystemResult is what one system did in its measured window.
type SystemResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Nodes       int    `json:"nodes"`
	// Ops counts the recorded requests; Errors, Conflicts and Missing
	// count those that ended in an error, a lost version check, or no
	// session found.
	Ops       int64 `json:"ops"`
	Errors    int64 `json:"errors"`
	Conflicts int64 `json:"conflicts"`
	Missing   int64 `json:"missing"`
	// ConflictsPer1000 and ErrorsPer1000 are Conflicts and Errors per
	// 1000 operations.
	ConflictsPer1000 float64 `json:"conflicts_per_1000_ops"`
	ErrorsPer1000    float64 `json:"errors_per_1000_ops"`
	// WarmupSeconds is how long the system warmed up unmeasured;
	// ElapsedSeconds is the length of the measured window.
	WarmupSeconds  float64 `json:"warmup_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Throughput is Ops per second.
	Throughput float64 `json:"throughput_ops_per_sec"`
	// Latency holds request latency percentiles in microseconds.
	Latency Latency `json:"latency_us"`
	// LocalTier tells whether the system has an in-process tier.
	LocalTier bool `json:"local_tier"`
	// HitRatio is local hits / (hits + misses); 0 without a local tier.
	HitRatio float64 `json:"local_hit_ratio"`
	// RemoteReadsPer1000 and RemoteWritesPer1000 count requests to the
	// backing store (DynamoDB, or Redis for the Redis system) per 1000
	// operations. Reads include RemoteConsistentReadsPer1000, the
	// strongly consistent reloads after a conflict; writes include
	// RemoteRefusedWritesPer1000, those whose condition failed, which
	// DynamoDB bills all the same. RemoteConflicts counts the failed
	// version checks, including those an update loop retried.
	RemoteReadsPer1000           float64 `json:"remote_reads_per_1000_ops"`
	RemoteConsistentReadsPer1000 float64 `json:"remote_consistent_reads_per_1000_ops"`
	RemoteWritesPer1000          float64 `json:"remote_writes_per_1000_ops"`
	RemoteRefusedWritesPer1000   float64 `json:"remote_refused_writes_per_1000_ops"`
	RemoteConflicts              int64   `json:"remote_conflicts"`
	// Bill is the DynamoDB on-demand bill of one million operations, in
	// request units and USD; CostPerMillionOps is its total. Both are
	// null when the system does not use DynamoDB.
	Bill              *Bill    `json:"dynamodb_bill"`
	CostPerMillionOps *float64 `json:"dynamodb_usd_per_million_ops"`
	// AvgItemBytes is the mean billed size of the items the system read
	// and wrote, measured at the remote (the sealing comparison); 0 when
	// not measured.
	AvgItemBytes float64 `json:"avg_item_bytes"`
	// VsRemoteOnly compares the system with "remote-only".
	VsRemoteOnly Ratios `json:"vs_remote_only"`
	// LatencyByOp splits Latency by how each request was answered (see
	// OpLatency), and says which class makes the system's p99.
	LatencyByOp []OpLatency `json:"latency_by_op"`
	// GC is what the garbage collector did during the measured window.
	GC GCStats `json:"gc"`
}

// Latency percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Ratios are system / remote-only, figure by figure: a throughput ratio
// of 4 means four times the throughput, a p50 ratio of 0.001 a median a
// thousand times lower. A ratio is null when remote-only's figure is 0 or
// the system lacks the figure.
type Ratios struct {
	Throughput  *float64 `json:"throughput"`
	P50         *float64 `json:"p50"`
	P99         *float64 `json:"p99"`
	RemoteReads *float64 `json:"remote_reads"`
	Cost        *float64 `json:"cost"`
}

// SweepPoint is one local capacity of the hit-ratio sweep.
type SweepPoint struct {
	// Source is "sweep" for a point measured by the sweep itself, or the
	// name of the system whose measurement it reuses (the one-node
	// tiered system, when its capacity is one of the sweep's).
	Source             string  `json:"source"`
	Fraction           float64 `json:"fraction"`
	Capacity           int     `json:"capacity"`
	Ops                int64   `json:"ops"`
	WarmupSeconds      float64 `json:"warmup_seconds"`
	HitRatio           float64 `json:"local_hit_ratio"`
	RemoteReadsPer1000 float64 `json:"remote_reads_per_1000_ops"`
	Throughput         float64 `json:"throughput_ops_per_sec"`
	P50us              float64 `json:"p50_us"`
	P99us              float64 `json:"p99_us"`
	// SimLRUHitRatio and SimTinyLFUHitRatio are the hit ratios that
	// exact LRU and W-TinyLFU (otter) of the same capacity, with no
	// expiry, reach on the requests this point issued, replayed by
	// internal/hitsim (Report.SweepSimulation says how the trace is
	// rebuilt); SimLookups counts the lookups they counted, which are
	// the point's recorded requests. Null when not simulated.
	SimLRUHitRatio     *float64 `json:"sim_exact_lru_hit_ratio"`
	SimTinyLFUHitRatio *float64 `json:"sim_wtinylfu_hit_ratio"`
	SimLookups         int64    `json:"sim_lookups"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// micros converts a histogram value in nanoseconds to microseconds.
func micros(ns int64) float64 { return float64(ns) / 1e3 }

// summarize turns a measurement into a result.
func summarize(sys *system, m measurement, cost CostModel) SystemResult {
	r := SystemResult{
		Name:            sys.name,
		Description:     sys.description,
		Nodes:           len(sys.nodes),
		Ops:             m.ops,
		Errors:          m.errors,
		Conflicts:       m.conflicts,
		Missing:         m.missing,
		WarmupSeconds:   m.warmup.Seconds(),
		ElapsedSeconds:  m.elapsed.Seconds(),
		LocalTier:       m.hasLocal,
		RemoteConflicts: m.remote.Conflicts,
		LatencyByOp:     latencyByOp(m.classes, m.hist.ValueAtQuantile(99)),
		GC:              m.gc,
		Latency: Latency{
			P50:  micros(m.hist.ValueAtQuantile(50)),
			P90:  micros(m.hist.ValueAtQuantile(90)),
			P99:  micros(m.hist.ValueAtQuantile(99)),
			P999: micros(m.hist.ValueAtQuantile(99.9)),
			Max:  micros(m.hist.Max()),
			Mean: m.hist.Mean() / 1e3,
		},
	}
	if s := m.elapsed.Seconds(); s > 0 {
		r.Throughput = float64(m.ops) / s
	}
	per1000 := func(n int64) float64 {
		if m.ops <= 0 {
			return 0
		}
		return 1000 * float64(n) / float64(m.ops)
	}
	r.ConflictsPer1000, r.ErrorsPer1000 = per1000(m.conflicts), per1000(m.errors)
	r.RemoteReadsPer1000 = per1000(m.remote.AllReads())
	r.RemoteConsistentReadsPer1000 = per1000(m.remote.ConsistentReads)
	r.RemoteWritesPer1000 = per1000(m.remote.Writes)
	r.RemoteRefusedWritesPer1000 = per1000(m.remote.Refused())
	if lookups := m.hits + m.misses; m.hasLocal && lookups > 0 {
		r.HitRatio = float64(m.hits) / float64(lookups)
	}
	r.AvgItemBytes = m.remote.AvgItemBytes()
	if sys.dynamo {
		bill := cost.Bill(m.remote, m.ops)
		usd := bill.USD()
		r.Bill, r.CostPerMillionOps = &bill, &usd
	}
	return r
}

// compare fills in every result's ratios to the first, remote-only.
func compare(results []SystemResult) {
	if len(results) == 0 {
		return
	}
	base := results[0]
	for i := range results {
		r := &results[i]
		r.VsRemoteOnly = Ratios{
			Throughput:  ratio(r.Throughput, base.Throughput),
			P50:         ratio(r.Latency.P50, base.Latency.P50),
			P99:         ratio(r.Latency.P99, base.Latency.P99),
			RemoteReads: ratio(r.RemoteReadsPer1000, base.RemoteReadsPer1000),
		}
		if r.CostPerMillionOps != nil && base.CostPerMillionOps != nil {
			r.VsRemoteOnly.Cost = ratio(*r.CostPerMillionOps, *base.CostPerMillionOps)
		}
	}
}

// ratio returns a/b, or nil when b is 0 or either is not finite.
func ratio(a, b float64) *float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return nil
	}
	v := a / b
	return &v
}

// sweepPoint summarizes one capacity of the sweep.
func sweepPoint(fraction float64, capacity int, m measurement) SweepPoint {
	p := SweepPoint{
		Source:        "sweep",
		Fraction:      fraction,
		Capacity:      capacity,
		Ops:           m.ops,
		WarmupSeconds: m.warmup.Seconds(),
		P50us:         micros(m.hist.ValueAtQuantile(50)),
		P99us:         micros(m.hist.ValueAtQuantile(99)),
	}
	if s := m.elapsed.Seconds(); s > 0 {
		p.Throughput = float64(m.ops) / s
	}
	if m.ops > 0 {
		p.RemoteReadsPer1000 = 1000 * float64(m.remote.AllReads()) / float64(m.ops)
	}
	if lookups := m.hits + m.misses; lookups > 0 {
		p.HitRatio = float64(m.hits) / float64(lookups)
	}
	return p
}

// sweepPointOf is the sweep point at fraction that reuses r, the one-node
// tiered system's result, measured at the same local capacity.
func sweepPointOf(fraction float64, capacity int, r SystemResult) SweepPoint {
	return SweepPoint{
		Source:             r.Name,
		Fraction:           fraction,
		Capacity:           capacity,
		Ops:                r.Ops,
		WarmupSeconds:      r.WarmupSeconds,
		HitRatio:           r.HitRatio,
		RemoteReadsPer1000: r.RemoteReadsPer1000,
		Throughput:         r.Throughput,
		P50us:              r.Latency.P50,
		P99us:              r.Latency.P99,
	}
}
