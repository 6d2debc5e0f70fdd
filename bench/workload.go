package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Op is one kind of request a workload issues against a session.
type Op int

// The operations. Each is one measured request; its latency covers every
// store call it makes.
const (
	// OpRead reads the session (Get).
	OpRead Op = iota
	// OpUpdate reads the session and writes a new payload at the version
	// it read (Get, then a version-checked Save). A conflict is counted
	// and not retried, like a failed YCSB update.
	OpUpdate
	// OpReadModifyWrite runs the store's optimistic read-modify-write
	// loop (Update), which retries on conflict until it succeeds.
	OpReadModifyWrite
	// OpTouch reads the session and extends its expiry (Get, then Touch):
	// the renewal of an idle session.
	OpTouch
	numOps
)

var opNames = [numOps]string{"read", "update", "rmw", "touch"}

// String returns the operation's short name.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Mix is the probability of each operation; the probabilities add up to 1.
type Mix [numOps]float64

// Workload is a named operation mix.
type Workload struct {
	// Name is how the workload is chosen on the command line.
	Name string
	// Description says what the mix models.
	Description string
	// Mix is the probability of each operation.
	Mix Mix
}

// The workloads. A, B, C and F are YCSB's core workloads recast on
// sessions; "web" is a web server's traffic: every request reads its
// session, a few write it, some renew it.
var workloads = []Workload{
	{Name: "a", Description: "YCSB A: 50% read, 50% update", Mix: Mix{OpRead: 0.5, OpUpdate: 0.5}},
	{Name: "b", Description: "YCSB B: 95% read, 5% update", Mix: Mix{OpRead: 0.95, OpUpdate: 0.05}},
	{Name: "c", Description: "YCSB C: 100% read", Mix: Mix{OpRead: 1}},
	{Name: "f", Description: "YCSB F: 50% read, 50% read-modify-write", Mix: Mix{OpRead: 0.5, OpReadModifyWrite: 0.5}},
	{Name: "web", Description: "web: every request reads its session; 10% also write it, 5% renew its expiry", Mix: Mix{OpRead: 0.85, OpUpdate: 0.10, OpTouch: 0.05}},
}

// Workloads returns the built-in workloads, in the order A, B, C, F, web.
func Workloads() []Workload { return append([]Workload(nil), workloads...) }

// LookupWorkload returns the workload with the given name (case
// insensitive; "ycsb-b" and "b" both name YCSB B).
func LookupWorkload(name string) (Workload, error) {
	n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "ycsb-")
	for _, w := range workloads {
		if w.Name == n {
			return w, nil
		}
	}
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.Name
	}
	sort.Strings(names)
	return Workload{}, fmt.Errorf("bench: unknown workload %q (want one of %s)", name, strings.Join(names, ", "))
}

// validate checks that the mix is a probability distribution.
func (m Mix) validate() error {
	var sum float64
	for op, p := range m {
		if p < 0 {
			return fmt.Errorf("bench: negative probability %v for %s", p, Op(op))
		}
		sum += p
	}
	if sum < 0.999999 || sum > 1.000001 {
		return fmt.Errorf("bench: operation mix adds up to %v, want 1", sum)
	}
	return nil
}

// Writes reports whether the mix contains any writing operation.
func (m Mix) Writes() bool { return m[OpUpdate]+m[OpReadModifyWrite]+m[OpTouch] > 0 }

// Request is one drawn operation: what to do, to which session, and, for
// systems with several nodes, which node serves it.
type Request struct {
	Op      Op
	Session int
	Node    int
}

// Generator draws the requests of one worker. It is deterministic for its
// seed and not safe for concurrent use: each worker owns one.
type Generator struct {
	rng   *rand.Rand
	keys  KeyChooser
	cum   [numOps]float64
	nodes int
}

// NewGenerator returns the generator of worker number worker: its random
// stream is seeded by (seed, worker), so every worker draws a different,
// reproducible sequence. nodes is how many nodes the requests are spread
// over (at least 1); a request picks its node uniformly, as a load
// balancer without sticky sessions does.
func NewGenerator(w Workload, keys KeyChooser, nodes int, seed uint64, worker int) (*Generator, error) {
	if err := w.Mix.validate(); err != nil {
		return nil, err
	}
	if nodes < 1 {
		return nil, fmt.Errorf("bench: %d nodes: need at least 1", nodes)
	}
	g := &Generator{
		rng:   rand.New(rand.NewPCG(seed, uint64(worker)+0x9e3779b97f4a7c15)),
		keys:  keys,
		nodes: nodes,
	}
	var c float64
	last := 0
	for op, p := range w.Mix {
		c += p
		g.cum[op] = c
		if p > 0 {
			last = op
		}
	}
	// Absorb rounding: the last operation with a chance catches every
	// draw, and the ones after it (all zero) are never chosen.
	for op := last; op < int(numOps); op++ {
		g.cum[op] = 2
	}
	return g, nil
}

// Next draws the next request.
func (g *Generator) Next() Request {
	u := g.rng.Float64()
	op := OpRead
	for i, c := range g.cum {
		if u < c {
			op = Op(i)
			break
		}
	}
	r := Request{Op: op, Session: g.keys.Next(g.rng)}
	if g.nodes > 1 {
		r.Node = g.rng.IntN(g.nodes)
	}
	return r
}

// Rand exposes the worker's random source, for payload bytes.
func (g *Generator) Rand() *rand.Rand { return g.rng }
