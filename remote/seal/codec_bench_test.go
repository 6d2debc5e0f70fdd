package seal

import (
	"bytes"
	"os"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/tiersession/tiersession/remote"
)

// sessionJSON is a realistic session payload of about 3 KB: a signed-in
// shop customer with OAuth tokens, a CSRF token, a cart and a browsing
// trail. The random tokens do not compress; the structure does.
func sessionJSON(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/session.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// benchKey is a storage key shaped like tiersession's (43 bytes).
const benchKey = "q8yL0m3mJkqv0sXw9b2o7cJ4nX1uYt5zR6aP2dE8fGh"

// writeUnits is what DynamoDB bills to write an item holding dataLen bytes
// of Data under benchKey: one unit per started KB, counting the item's
// other attributes at their largest.
func writeUnits(dataLen int) float64 {
	size := remote.MaxItemSize - remote.MaxDataSize(benchKey) + dataLen
	return float64((size + 1023) / 1024)
}

// readUnits is what DynamoDB bills for a strongly consistent read of the
// same item: one unit per started 4 KB (half that when eventually
// consistent).
func readUnits(dataLen int) float64 {
	size := remote.MaxItemSize - remote.MaxDataSize(benchKey) + dataLen
	return float64((size + 4095) / 4096)
}

type benchCodec struct {
	name   string
	encode func(src []byte) []byte
	decode func(src []byte) ([]byte, error)
}

func benchCodecs(tb testing.TB) []benchCodec {
	tb.Helper()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(dec.Close)
	zstdAt := func(level zstd.EncoderLevel) benchCodec {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false))
		if err != nil {
			tb.Fatal(err)
		}
		return benchCodec{
			name:   "zstd-" + level.String(),
			encode: func(src []byte) []byte { return enc.EncodeAll(src, nil) },
			decode: func(src []byte) ([]byte, error) { return dec.DecodeAll(src, nil) },
		}
	}
	s2With := func(name string, enc func(dst, src []byte) []byte) benchCodec {
		return benchCodec{
			name:   name,
			encode: func(src []byte) []byte { return enc(nil, src) },
			decode: func(src []byte) ([]byte, error) { return s2.Decode(nil, src) },
		}
	}
	return []benchCodec{
		zstdAt(zstd.SpeedFastest),
		zstdAt(zstd.SpeedDefault),
		zstdAt(zstd.SpeedBetterCompression),
		zstdAt(zstd.SpeedBestCompression),
		s2With("s2", s2.Encode),
		s2With("s2-better", s2.EncodeBetter),
		s2With("s2-best", s2.EncodeBest),
	}
}

// BenchmarkCodec compares the candidate compressors on a 3 KB JSON session:
// ns/op both ways, the compression ratio, and the DynamoDB write units of
// the resulting item (reads stay at one unit: the item is under 4 KB
// either way). It is the measurement behind the choice of codec (doc.go).
func BenchmarkCodec(b *testing.B) {
	plain := sessionJSON(b)
	b.Logf("plain: %d bytes, %v WCU, %v RCU", len(plain), writeUnits(len(plain)), readUnits(len(plain)))
	for _, c := range benchCodecs(b) {
		packed := c.encode(plain)
		if got, err := c.decode(packed); err != nil || !bytes.Equal(got, plain) {
			b.Fatalf("%s does not round-trip: %v", c.name, err)
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				c.encode(plain)
			}
			b.ReportMetric(float64(len(plain))/float64(len(packed)), "ratio")
			b.ReportMetric(float64(len(packed)), "bytes")
			b.ReportMetric(writeUnits(len(packed)), "WCU")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				if _, err := c.decode(packed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
