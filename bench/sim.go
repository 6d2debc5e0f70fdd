package bench

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tiersession/tiersession/internal/hitsim"
)

// The capacity sweep's reference policies: next to the hit ratio each
// point's local tier measured, the hit ratios that exact LRU and
// W-TinyLFU of the same capacity reach on the same requests.
//
// The trace is not recorded while measuring, which would cost every
// request a shared write: it is drawn again. Each client's requests
// depend only on the seed and its number (NewGenerator), and the
// measurement kept how many each client drew and recorded, so the trace
// holds exactly the requests the point issued, warm-up included, each
// client's in its own order. Only the interleaving of the clients is
// rebuilt: within the warm-up, and within the measured window, each
// client's requests are spread evenly over the phase, as closed-loop
// clients of similar latency issue them. The replay counts the lookups
// of the measured window only, after warming on the warm-up's, as the
// tier's hit ratio does.

// sweepSimulation describes the simulation for the report.
const sweepSimulation = "exact LRU (hashicorp/golang-lru simplelru) and W-TinyLFU (otter v2) of the point's capacity, " +
	"no expiry, replaying the requests the point issued: each client's requests redrawn from the run's seed " +
	"(same generator, same seed, same counts, warm-up included), clients interleaved evenly within the warm-up " +
	"and within the measured window; every request is a lookup that caches its session on a miss, and a write " +
	"(update, rmw, touch) caches it again after; hits counted over the measured window's lookups"

// simResult is one point's simulated hit ratios.
type simResult struct {
	lru, tinyLFU float64
	lookups      int64
}

// simulate replays the requests a measurement made with p through exact
// LRU and W-TinyLFU of the given capacity.
func simulate(p runParams, capacity int, clients []clientCount) (simResult, error) {
	trace, warmup, err := sweepTrace(p, clients)
	if err != nil {
		return simResult{}, err
	}
	res, err := hitsim.ReplayAll([]hitsim.Spec{hitsim.LRU(capacity), hitsim.TinyLFU(capacity)}, trace, hitsim.Options{Warmup: warmup})
	if err != nil {
		return simResult{}, err
	}
	return simResult{lru: res[0].HitRatio(), tinyLFU: res[1].HitRatio(), lookups: res[0].Reads}, nil
}

// sweepTrace draws again the requests of a one-node measurement whose
// clients drew and recorded clients[i] requests each, and returns them as
// a hitsim trace and the length of its warm-up part.
func sweepTrace(p runParams, clients []clientCount) ([]hitsim.Request, int, error) {
	draws := make([][]Request, len(clients))
	total := 0
	for i, c := range clients {
		gen, err := NewGenerator(p.workload, p.keys, 1, p.seed, i)
		if err != nil {
			return nil, 0, err
		}
		draws[i] = make([]Request, c.issued)
		for j := range draws[i] {
			draws[i][j] = gen.Next()
		}
		total += len(draws[i])
	}
	// slot is one request's place in its phase: client's j-th.
	type slot struct {
		pos       float64 // in [0, 1)
		client, j int32
	}
	var phases [2][]slot // warm-up, then measured
	for i, c := range clients {
		warm := c.issued - c.recorded
		for j := range c.issued {
			phase, k, n := 0, j, warm
			if j >= warm {
				phase, k, n = 1, j-warm, c.recorded
			}
			phases[phase] = append(phases[phase], slot{pos: (float64(k) + 0.5) / float64(n), client: int32(i), j: int32(j)})
		}
	}
	trace := make([]hitsim.Request, 0, total+total/8)
	warmup := 0
	for ph, slots := range phases {
		// (pos, client) orders the slots totally.
		slices.SortFunc(slots, func(a, b slot) int {
			if c := cmp.Compare(a.pos, b.pos); c != 0 {
				return c
			}
			return cmp.Compare(a.client, b.client)
		})
		for _, s := range slots {
			r := draws[s.client][s.j]
			if r.Session < 0 || r.Session >= len(p.sessionKeys) {
				return nil, 0, fmt.Errorf("bench: session %d out of range", r.Session)
			}
			key := p.sessionKeys[r.Session]
			trace = append(trace, hitsim.Request{Key: key})
			if r.Op != OpRead {
				trace = append(trace, hitsim.Request{Key: key, Write: true})
			}
		}
		if ph == 0 {
			warmup = len(trace)
		}
	}
	return trace, warmup, nil
}

// withSim returns pt with the simulated hit ratios of r.
func withSim(pt SweepPoint, r simResult) SweepPoint {
	pt.SimLRUHitRatio, pt.SimTinyLFUHitRatio, pt.SimLookups = &r.lru, &r.tinyLFU, r.lookups
	return pt
}
