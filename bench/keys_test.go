package bench

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// draw returns how often each index came up in draws from k.
func draw(tb testing.TB, k KeyChooser, draws int, seed uint64) []int {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	counts := make([]int, k.Items())
	for range draws {
		i := k.Next(r)
		if i < 0 || i >= k.Items() {
			tb.Fatalf("%s drew %d, outside [0, %d)", k.Name(), i, k.Items())
		}
		counts[i]++
	}
	return counts
}

func TestZipfianFollowsTheZipfLaw(t *testing.T) {
	const n, draws = 1000, 1_000_000
	z, err := NewZipfian(n, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	counts := draw(t, z, draws, 1)

	// Ranks 0 and 1 are exact in YCSB's generator: their shares must be
	// within a few standard errors of 1/zeta(n) and 1/(2^theta zeta(n)).
	for rank := range 2 {
		p := z.Probability(rank)
		got := float64(counts[rank]) / draws
		se := math.Sqrt(p * (1 - p) / draws)
		if math.Abs(got-p) > 5*se {
			t.Errorf("rank %d: share %.5f, want %.5f ± %.5f", rank, got, p, 5*se)
		}
	}
	// Later ranks follow Gray's closed-form approximation, which
	// over-draws rank 2 by about 18% and converges quickly after: ranks
	// 2-4 stay within 25% of the exact law, ranks 5-9 within 10%, and all
	// come out in rank order.
	for rank := 2; rank < 10; rank++ {
		p := z.Probability(rank)
		got := float64(counts[rank]) / draws
		tol := 0.10
		if rank < 5 {
			tol = 0.25
		}
		if math.Abs(got-p)/p > tol {
			t.Errorf("rank %d: share %.5f, want within %.0f%% of %.5f", rank, got, 100*tol, p)
		}
	}
	for rank := 1; rank < 10; rank++ {
		if counts[rank] >= counts[rank-1] {
			t.Errorf("rank %d drawn %d times, not fewer than rank %d (%d)", rank, counts[rank], rank-1, counts[rank-1])
		}
	}
	// The head as a whole: the hottest 10% of ranks take their share.
	var want, got float64
	for rank := range n / 10 {
		want += z.Probability(rank)
		got += float64(counts[rank]) / draws
	}
	if math.Abs(got-want) > 0.02 {
		t.Errorf("hottest 10%% of ranks: share %.3f, want %.3f ± 0.02", got, want)
	}
}

func TestZipfianConstantShapesTheHead(t *testing.T) {
	// A larger constant concentrates more of the load on the hottest key.
	var prev float64
	for _, theta := range []float64{0.5, 0.8, 0.99} {
		z, err := NewZipfian(10_000, theta)
		if err != nil {
			t.Fatal(err)
		}
		share := float64(draw(t, z, 200_000, 2)[0]) / 200_000
		if share <= prev {
			t.Errorf("theta %v: hottest share %.4f, not above %.4f of a smaller constant", theta, share, prev)
		}
		prev = share
	}
}

func TestScrambledZipfianSpreadsHotKeys(t *testing.T) {
	const n, draws = 10_000, 500_000
	s, err := NewScrambledZipfian(n, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	counts := draw(t, s, draws, 3)

	// The hottest index is where rank 0 hashes to, with rank 0's share
	// (plus whatever rare rank collides with it).
	hottest := slices.Index(counts, slices.Max(counts))
	if hottest != s.Index(0) {
		t.Errorf("hottest index %d, want rank 0's index %d", hottest, s.Index(0))
	}
	p := s.z.Probability(0)
	if got := float64(counts[hottest]) / draws; got < p*0.97 || got > p*1.10 {
		t.Errorf("hottest index share %.4f, want about %.4f", got, p)
	}

	// The twenty hottest ranks land all over the key space, not in a
	// block: their indexes span most of it and hardly any are adjacent.
	idx := make([]int, 20)
	for rank := range idx {
		idx[rank] = s.Index(rank)
	}
	slices.Sort(idx)
	if span := idx[len(idx)-1] - idx[0]; span < n/2 {
		t.Errorf("hot indexes %v span %d of %d keys; want them spread over at least half", idx, span, n)
	}
	adjacent := 0
	for i := 1; i < len(idx); i++ {
		if idx[i]-idx[i-1] <= 1 {
			adjacent++
		}
	}
	if adjacent > 2 {
		t.Errorf("%d of the hot indexes are adjacent: %v", adjacent, idx)
	}

	// Sorted by popularity, the scrambled counts keep the zipf head.
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b int) int { return b - a })
	// (Tolerances as for the plain zipfian: ranks 2-4 are over-drawn.)
	for rank := range 5 {
		want := s.z.Probability(rank) * draws
		tol := 0.05
		if rank >= 2 {
			tol = 0.25
		}
		if got := float64(sorted[rank]); math.Abs(got-want)/want > tol {
			t.Errorf("%d-th most popular index drawn %.0f times, want about %.0f", rank+1, got, want)
		}
	}
}

// chiSquare is Pearson's statistic of counts against a uniform expectation.
func chiSquare(counts []int) float64 {
	var total int
	for _, c := range counts {
		total += c
	}
	exp := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

func TestUniformIsUniform(t *testing.T) {
	// 99 degrees of freedom: the 0.1% critical value is 148.2.
	const critical = 148.2
	u, err := NewUniform(100)
	if err != nil {
		t.Fatal(err)
	}
	if x := chiSquare(draw(t, u, 100_000, 4)); x > critical {
		t.Errorf("uniform chooser: chi-square %.1f over 99 df exceeds %.1f", x, critical)
	}
	// The same statistic rejects a skewed chooser, so the check can fail.
	z, err := NewZipfian(100, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if x := chiSquare(draw(t, z, 100_000, 4)); x <= critical {
		t.Errorf("zipf(0.5) chooser: chi-square %.1f; the test cannot tell it from uniform", x)
	}
}

func TestFNVIsYCSBsHash(t *testing.T) {
	// YCSB's fnvhash64 is FNV-1a over the eight little-endian bytes of
	// the value, made non-negative; compare with the standard library.
	for _, v := range []uint64{0, 1, 2, 255, 256, 1 << 40, math.MaxInt64} {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
		want := h.Sum64()
		if int64(want) < 0 {
			want = uint64(-int64(want))
		}
		if got := fnv64(v); got != want {
			t.Errorf("fnv64(%d) = %#x, want %#x", v, got, want)
		}
	}
}

func TestNewKeyChooserRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name  string
		dist  string
		n     int
		theta float64
	}{
		{"unknown distribution", "pareto", 10, 0.99},
		{"no items zipf", DistZipf, 0, 0.99},
		{"no items uniform", DistUniform, 0, 0.99},
		{"constant zero", DistZipf, 10, 0},
		{"constant one", DistZipf, 10, 1},
		{"constant above one", DistZipf, 10, 1.2},
		{"constant NaN", DistZipf, 10, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := NewKeyChooser(tc.dist, tc.n, tc.theta); err == nil {
				t.Errorf("NewKeyChooser(%q, %d, %v) = %v, want an error", tc.dist, tc.n, tc.theta, k.Name())
			}
		})
	}
	for _, dist := range []string{DistZipf, DistUniform} {
		k, err := NewKeyChooser(dist, 1, 0.99)
		if err != nil {
			t.Fatalf("%s over one item: %v", dist, err)
		}
		if got := draw(t, k, 100, 5)[0]; got != 100 {
			t.Errorf("%s over one item drew index 0 %d times of 100", dist, got)
		}
	}
}

func TestSessionKeysLookLikeStorageKeys(t *testing.T) {
	keys := sessionKeys(1000)
	seen := make(map[string]bool)
	for i, k := range keys {
		if len(k) != 43 {
			t.Fatalf("key %d is %q: %d characters, want 43 (base64url SHA-256)", i, k, len(k))
		}
		if seen[k] {
			t.Fatalf("key %d repeats %q", i, k)
		}
		seen[k] = true
		if k != SessionKey(i) {
			t.Fatalf("SessionKey(%d) is not deterministic", i)
		}
	}
}
