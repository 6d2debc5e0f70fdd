package bench

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// KeyChooser picks which session the next operation addresses, as an index
// in [0, Items()). A chooser holds no mutable state: every call draws from
// the caller's random source, so one chooser is shared by all workers and
// each worker stays deterministic for its seed.
type KeyChooser interface {
	// Next returns a session index in [0, Items()).
	Next(r *rand.Rand) int
	// Items is the number of sessions the chooser draws from.
	Items() int
	// Name describes the distribution, e.g. "zipf(0.99)" or "uniform".
	Name() string
}

// Uniform chooses every session with the same probability.
type Uniform struct{ n int }

// NewUniform returns a uniform chooser over n sessions; n must be positive.
func NewUniform(n int) (*Uniform, error) {
	if n <= 0 {
		return nil, fmt.Errorf("bench: uniform over %d items: need at least 1", n)
	}
	return &Uniform{n: n}, nil
}

// Next returns an index drawn uniformly from [0, n).
func (u *Uniform) Next(r *rand.Rand) int { return r.IntN(u.n) }

// Items returns n.
func (u *Uniform) Items() int { return u.n }

// Name returns "uniform".
func (u *Uniform) Name() string { return "uniform" }

// Zipfian draws ranks in [0, n) with P(rank i) proportional to
// 1/(i+1)^theta, using YCSB's ZipfianGenerator (Gray et al., "Quickly
// generating billion-record synthetic databases", SIGMOD 1994): ranks 0 and
// 1 are exact, later ranks follow a closed-form approximation. Rank 0 is
// the hottest, so a plain Zipfian puts all hot keys next to each other; see
// ScrambledZipfian for the spread-out variant the workloads use.
type Zipfian struct {
	n     int
	theta float64
	alpha float64
	zetan float64
	eta   float64
	half  float64 // 1 + 0.5^theta: the cumulative bound for rank 1
}

// NewZipfian returns a zipfian chooser over n items with the given
// constant (YCSB's default is 0.99). theta must be in (0, 1): the
// generator's closed form divides by 1-theta.
func NewZipfian(n int, theta float64) (*Zipfian, error) {
	if n <= 0 {
		return nil, fmt.Errorf("bench: zipfian over %d items: need at least 1", n)
	}
	if !(theta > 0 && theta < 1) {
		return nil, fmt.Errorf("bench: zipfian constant %v: must be in (0, 1)", theta)
	}
	zetan := zeta(n, theta)
	z := &Zipfian{
		n:     n,
		theta: theta,
		alpha: 1 / (1 - theta),
		zetan: zetan,
		half:  1 + math.Pow(0.5, theta),
	}
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta(2, theta)/zetan)
	return z, nil
}

// zeta is the generalised harmonic number sum_{i=1..n} 1/i^theta.
func zeta(n int, theta float64) float64 {
	var sum float64
	for i := 1; i <= n; i++ {
		sum += 1 / math.Pow(float64(i), theta)
	}
	return sum
}

// Next returns a rank; 0 is the most popular.
func (z *Zipfian) Next(r *rand.Rand) int {
	u := r.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.half || z.n == 2 {
		return min(1, z.n-1)
	}
	rank := int(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(rank, z.n-1)
}

// Items returns n.
func (z *Zipfian) Items() int { return z.n }

// Name returns "zipf(theta)".
func (z *Zipfian) Name() string { return "zipf(" + strconv.FormatFloat(z.theta, 'g', -1, 64) + ")" }

// Probability is the exact zipf probability of rank i (0-based):
// 1/((i+1)^theta * zeta(n, theta)). Tests compare draws against it.
func (z *Zipfian) Probability(i int) float64 {
	return 1 / (math.Pow(float64(i+1), z.theta) * z.zetan)
}

// ScrambledZipfian draws a zipfian rank and maps it to a session index with
// a 64-bit FNV-1a hash modulo n, as YCSB's ScrambledZipfianGenerator does,
// so the hot sessions are scattered over the key space instead of being
// sessions 0, 1, 2, ... Two ranks can hash to the same index; that merges
// their popularity, exactly as in YCSB.
//
// One deliberate difference: YCSB draws its ranks from a fixed space of
// 10^10 items and folds them with the modulo, which flattens the head (its
// hottest key gets about 3.8% of requests whatever the key count). Here the
// ranks range over the n sessions themselves, so the popularity follows the
// zipf law that the constant states (at 0.99 over 100k sessions the hottest
// session gets about 8%).
type ScrambledZipfian struct{ z *Zipfian }

// NewScrambledZipfian returns a scrambled zipfian chooser over n items.
func NewScrambledZipfian(n int, theta float64) (*ScrambledZipfian, error) {
	z, err := NewZipfian(n, theta)
	if err != nil {
		return nil, err
	}
	return &ScrambledZipfian{z: z}, nil
}

// Next returns the scrambled index of a zipfian rank.
func (s *ScrambledZipfian) Next(r *rand.Rand) int { return s.Index(s.z.Next(r)) }

// Index is the session index that rank maps to.
func (s *ScrambledZipfian) Index(rank int) int {
	return int(fnv64(uint64(rank)) % uint64(s.z.n))
}

// Items returns n.
func (s *ScrambledZipfian) Items() int { return s.z.n }

// Name returns "zipf(theta)".
func (s *ScrambledZipfian) Name() string { return s.z.Name() }

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 0xCBF29CE484222325
	fnvPrime64  = 1099511628211
)

// fnv64 is YCSB's Utils.fnvhash64: FNV-1a over the eight little-endian
// octets of v, made non-negative as a signed 64-bit value.
func fnv64(v uint64) uint64 {
	h := uint64(fnvOffset64)
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime64
		v >>= 8
	}
	if s := int64(h); s < 0 && s != math.MinInt64 {
		return uint64(-s)
	}
	return h &^ (1 << 63)
}

// NewKeyChooser returns the chooser a distribution name stands for: "zipf"
// (scrambled zipfian with constant theta) or "uniform".
func NewKeyChooser(dist string, n int, theta float64) (KeyChooser, error) {
	switch dist {
	case DistZipf:
		return NewScrambledZipfian(n, theta)
	case DistUniform:
		return NewUniform(n)
	default:
		return nil, fmt.Errorf("bench: unknown key distribution %q (want %q or %q)", dist, DistZipf, DistUniform)
	}
}

// Key distributions.
const (
	DistZipf    = "zipf"
	DistUniform = "uniform"
)

// SessionKey is the storage key of session i: base64url of SHA-256, the
// same shape (43 characters) tiersession derives from a session token, so
// item sizes match production.
func SessionKey(i int) string {
	sum := sha256.Sum256([]byte("tierbench-session-" + strconv.Itoa(i)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionKeys returns the storage keys of sessions 0..n-1.
func sessionKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = SessionKey(i)
	}
	return keys
}
