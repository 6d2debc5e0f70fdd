package bench

import (
	"math"
	"slices"
	"testing"
)

// mixOf draws n requests and returns the observed share of each op and
// of each node.
func mixOf(tb testing.TB, g *Generator, n, nodes int) (ops Mix, perNode []float64) {
	tb.Helper()
	perNode = make([]float64, nodes)
	for range n {
		r := g.Next()
		if r.Op < 0 || r.Op >= numOps {
			tb.Fatalf("drew unknown op %d", r.Op)
		}
		if r.Node < 0 || r.Node >= nodes {
			tb.Fatalf("drew node %d of %d", r.Node, nodes)
		}
		ops[r.Op]++
		perNode[r.Node]++
	}
	for i := range ops {
		ops[i] /= float64(n)
	}
	for i := range perNode {
		perNode[i] /= float64(n)
	}
	return ops, perNode
}

func TestWorkloadMixes(t *testing.T) {
	const n = 200_000
	want := map[string]Mix{
		"a":   {OpRead: 0.5, OpUpdate: 0.5},
		"b":   {OpRead: 0.95, OpUpdate: 0.05},
		"c":   {OpRead: 1},
		"f":   {OpRead: 0.5, OpReadModifyWrite: 0.5},
		"web": {OpRead: 0.85, OpUpdate: 0.10, OpTouch: 0.05},
	}
	keys, err := NewUniform(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range Workloads() {
		t.Run(w.Name, func(t *testing.T) {
			if w.Mix != want[w.Name] {
				t.Fatalf("mix %v, want %v", w.Mix, want[w.Name])
			}
			g, err := NewGenerator(w, keys, 1, 42, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := mixOf(t, g, n, 1)
			for op, p := range w.Mix {
				// Five standard errors of a binomial share.
				tol := 5 * math.Sqrt(p*(1-p)/n)
				if math.Abs(got[op]-p) > tol {
					t.Errorf("%s: share %.4f, want %.4f ± %.4f", Op(op), got[op], p, tol)
				}
				if p == 0 && got[op] != 0 {
					t.Errorf("%s: drawn with share %.4f though the mix never asks for it", Op(op), got[op])
				}
			}
		})
	}
}

func TestRequestsSpreadEvenlyOverNodes(t *testing.T) {
	const n, nodes = 90_000, 3
	keys, _ := NewUniform(100)
	g, err := NewGenerator(workloads[1], keys, nodes, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, perNode := mixOf(t, g, n, nodes)
	for i, share := range perNode {
		if math.Abs(share-1.0/nodes) > 0.01 {
			t.Errorf("node %d got %.3f of requests, want 1/%d", i, share, nodes)
		}
	}
}

func TestGeneratorIsDeterministicPerWorker(t *testing.T) {
	keys, _ := NewScrambledZipfian(10_000, 0.99)
	w, _ := LookupWorkload("a")
	seq := func(seed uint64, worker int) []Request {
		g, err := NewGenerator(w, keys, 3, seed, worker)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]Request, 200)
		for i := range out {
			out[i] = g.Next()
		}
		return out
	}
	if !slices.Equal(seq(1, 0), seq(1, 0)) {
		t.Error("the same seed and worker drew different sequences")
	}
	if slices.Equal(seq(1, 0), seq(1, 1)) {
		t.Error("two workers with one seed drew the same sequence")
	}
	if slices.Equal(seq(1, 0), seq(2, 0)) {
		t.Error("two seeds drew the same sequence")
	}
}

func TestLookupWorkload(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"b", "b"}, {"B", "b"}, {"ycsb-b", "b"}, {"YCSB-F", "f"}, {" web ", "web"},
	}
	for _, tc := range tests {
		w, err := LookupWorkload(tc.in)
		if err != nil || w.Name != tc.want {
			t.Errorf("LookupWorkload(%q) = %q, %v; want %q", tc.in, w.Name, err, tc.want)
		}
	}
	for _, bad := range []string{"", "d", "ycsb-e", "webb"} {
		if w, err := LookupWorkload(bad); err == nil {
			t.Errorf("LookupWorkload(%q) = %q, want an error", bad, w.Name)
		}
	}
}

func TestNewGeneratorRejectsBadMixes(t *testing.T) {
	keys, _ := NewUniform(10)
	tests := []struct {
		name  string
		mix   Mix
		nodes int
	}{
		{"sum below one", Mix{OpRead: 0.5}, 1},
		{"sum above one", Mix{OpRead: 0.9, OpUpdate: 0.2}, 1},
		{"negative share", Mix{OpRead: 1.1, OpUpdate: -0.1}, 1},
		{"no nodes", Mix{OpRead: 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewGenerator(Workload{Name: "x", Mix: tc.mix}, keys, tc.nodes, 1, 0); err == nil {
				t.Error("NewGenerator accepted it")
			}
		})
	}
}

func TestOpNames(t *testing.T) {
	for op, want := range map[Op]string{OpRead: "read", OpUpdate: "update", OpReadModifyWrite: "rmw", OpTouch: "touch", numOps: "Op(4)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
	if !workloads[0].Mix.Writes() || workloads[2].Mix.Writes() {
		t.Error("Mix.Writes: A writes and C does not")
	}
}
