package bench

import (
	"slices"
	"testing"

	"github.com/tiersession/tiersession/internal/hitsim"
)

// simParams are the run parameters of a small one-node measurement.
func simParams(t *testing.T, workload string, sessions int) runParams {
	t.Helper()
	w, err := LookupWorkload(workload)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyChooser(DistZipf, sessions, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	return runParams{workload: w, keys: keys, sessionKeys: sessionKeys(sessions), seed: 7}
}

func TestSweepTraceRedrawsTheClientsRequests(t *testing.T) {
	p := simParams(t, "a", 50) // half updates: reads and writes alike
	// Client 0 drew 3 warm-up requests then 2 recorded; client 1, 1 and
	// 2. Spread evenly, the warm-up is c0 at 1/6, c1 at 1/2 (after c0's
	// second, also at 1/2: the lower client first), c0 at 5/6; the
	// measured window c0, c1 at 1/4, then c0, c1 at 3/4.
	clients := []clientCount{{issued: 5, recorded: 2}, {issued: 3, recorded: 2}}
	var draws [2][]Request
	for i, c := range clients {
		gen, err := NewGenerator(p.workload, p.keys, 1, p.seed, i)
		if err != nil {
			t.Fatal(err)
		}
		for range c.issued {
			draws[i] = append(draws[i], gen.Next())
		}
	}
	order := []Request{
		draws[0][0], draws[0][1], draws[1][0], draws[0][2], // warm-up
		draws[0][3], draws[1][1], draws[0][4], draws[1][2], // measured
	}
	var want []hitsim.Request
	wantWarmup := 0
	for i, r := range order {
		key := p.sessionKeys[r.Session]
		want = append(want, hitsim.Request{Key: key})
		if r.Op != OpRead {
			want = append(want, hitsim.Request{Key: key, Write: true})
		}
		if i == 3 {
			wantWarmup = len(want)
		}
	}
	got, warmup, err := sweepTrace(p, clients)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || warmup != wantWarmup {
		t.Errorf("trace %v (warm-up %d),\nwant %v (warm-up %d)", got, warmup, want, wantWarmup)
	}
}

func TestSimulateCountsTheMeasuredLookups(t *testing.T) {
	const sessions = 200
	p := simParams(t, "b", sessions)
	clients := []clientCount{{issued: 3000, recorded: 2000}, {issued: 2500, recorded: 2200}, {issued: 100, recorded: 0}}
	trace, warmup, err := sweepTrace(p, clients)
	if err != nil {
		t.Fatal(err)
	}
	// With room for every session, the only misses are the lookups of
	// sessions the trace had not touched yet.
	seen := make(map[string]bool)
	var misses int64
	for i, r := range trace {
		if !r.Write && i >= warmup && !seen[r.Key] {
			misses++
		}
		seen[r.Key] = true
	}
	res, err := simulate(p, sessions, clients)
	if err != nil {
		t.Fatal(err)
	}
	if res.lookups != 4200 {
		t.Errorf("%d lookups counted, want 4200, the recorded requests", res.lookups)
	}
	want := float64(4200-misses) / 4200
	if res.lru != want || res.tinyLFU != want {
		t.Errorf("with room for every session: exact LRU %v, W-TinyLFU %v; want %v", res.lru, res.tinyLFU, want)
	}
	// A cache of a tenth of the sessions misses more, and W-TinyLFU,
	// which keeps the frequent ones, no more than exact LRU.
	small, err := simulate(p, sessions/10, clients)
	if err != nil {
		t.Fatal(err)
	}
	if !(small.lru < res.lru && small.tinyLFU < res.tinyLFU && small.tinyLFU >= small.lru-0.01) {
		t.Errorf("a tenth of the sessions: exact LRU %v, W-TinyLFU %v (all: %v)", small.lru, small.tinyLFU, res.lru)
	}
}
