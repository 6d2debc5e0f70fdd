// Package benchkeys generates the storage keys and skewed access sequences
// that the benchmarks of every tier share, so that local/, tier/ and bench/
// compare like with like: the same key shapes, the same skew, the same seed.
//
// Keys have the shape of real storage keys: 43 characters of unpadded
// base64url, as the HTTP layer derives them from SHA-256 of a client token.
// They come from a seeded hash of the key's index, not from a real token.
//
// The access sequence is Zipf-distributed with exponent s = 1.01 (the
// smallest skew math/rand/v2 accepts, close to the s ≈ 1 reported for web
// session and object traffic). Rank i maps to Key(i); because keys are
// hashes, the hot ranks land on unrelated shards of any hashed structure,
// which is what "scrambled Zipf" is meant to achieve.
//
// The package is internal and meant for tests and benchmarks only.
package benchkeys

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
)

// ZipfS is the exponent of the Zipf distribution that Zipf draws from.
const ZipfS = 1.01

// keySalt separates benchmark keys from any other SHA-256 use.
const keySalt = "tiersession/benchkeys"

// Key returns the i-th benchmark key: 43 characters of base64url, like a
// storage key. The same i gives the same key in every process.
func Key(i int) string {
	var buf [len(keySalt) + 8]byte
	copy(buf[:], keySalt)
	binary.BigEndian.PutUint64(buf[len(keySalt):], uint64(i))
	sum := sha256.Sum256(buf[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Keys returns Key(0) … Key(n-1), the key set that Zipf draws from, to
// populate a cache before a benchmark.
func Keys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key(i)
	}
	return keys
}

// Zipf returns count keys drawn from Keys(n) with a Zipf distribution
// (exponent ZipfS), rank 0 the most frequent. The sequence depends only on
// n, count and seed. Keys repeat by sharing the string, so iterating over
// the result allocates nothing. It panics if n < 1 or count < 0.
func Zipf(n, count int, seed uint64) []string {
	if n < 1 || count < 0 {
		panic("benchkeys: Zipf needs n >= 1 and count >= 0")
	}
	keys := Keys(n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	z := rand.NewZipf(r, ZipfS, 1, uint64(n-1))
	seq := make([]string, count)
	for i := range seq {
		seq[i] = keys[z.Uint64()]
	}
	return seq
}
