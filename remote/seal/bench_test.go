package seal

import (
	"testing"

	"github.com/tiersession/tiersession/remote"
)

// The sealing benchmarks measure what a Store adds to one write (seal) and
// one read (open) of the 3 KB JSON session, in each mode, and report the
// sealed size, the compression ratio and the item's DynamoDB write units:
//
//	go test -run '^$' -bench 'Seal|Open|Codec' ./remote/seal/
var benchModes = []struct {
	name      string
	opts      Options
	encrypted bool
}{
	{"compress+encrypt", Options{}, true},
	{"encrypt", Options{DisableCompression: true}, true},
	{"compress", Options{}, false},
}

// benchStore returns a store over Memory for a mode, keyed "k1" where encrypted.
func benchStore(b *testing.B, opts Options, encrypted bool) *Store {
	b.Helper()
	if encrypted {
		opts.Keys = keyring(b, "k1")
	}
	return newStore(b, remote.NewMemory(remote.MemoryOptions{}), opts)
}

func BenchmarkSeal(b *testing.B) {
	plain := sessionJSON(b)
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchStore(b, m.opts, m.encrypted)
			var sealed []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				var err error
				if sealed, err = s.seal(ctx, benchKey, 1, plain); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(sealed)), "bytes")
			b.ReportMetric(float64(len(plain))/float64(len(sealed)), "ratio")
			b.ReportMetric(writeUnits(len(sealed)), "WCU")
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	plain := sessionJSON(b)
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchStore(b, m.opts, m.encrypted)
			sealed, err := s.seal(ctx, benchKey, 1, plain)
			if err != nil {
				b.Fatal(err)
			}
			// Opening decrypts in place, as it may with the inner store's
			// copy; each iteration opens a fresh copy, as a read would.
			buf := make([]byte, len(sealed))
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				copy(buf, sealed)
				data, err := s.unseal(ctx, remote.Record{Key: benchKey, Version: 1, Data: buf})
				if err != nil || len(data) != len(plain) {
					b.Fatalf("open: %d bytes, %v", len(data), err)
				}
			}
		})
	}
}

// BenchmarkItemKey is the cost of the per-item key (envelope.go): one
// HKDF-Expand and one AES-256-GCM setup, paid on every seal and open.
func BenchmarkItemKey(b *testing.B) {
	key, nonce := secret(b), make([]byte, nonceLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := itemAEAD(key, nonce); err != nil {
			b.Fatal(err)
		}
	}
}
