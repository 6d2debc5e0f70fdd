package seal

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/tiersession/tiersession/remote"
)

// Compression is zstd at its fastest level, one frame per item, without
// zstd's own checksum (GCM authenticates the bytes when encryption is on).
// BenchmarkCodec is the measurement behind the choice; doc.go sums it up.
//
// One encoder and one decoder serve every Store of the process: both are
// safe for concurrent EncodeAll and DecodeAll, keep per-call state in
// internal pools, and start no goroutines for those calls.
var codec = sync.OnceValues(func() (*zstdCodec, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // as many concurrent DecodeAll calls as GOMAXPROCS
		// Nothing we write decodes to more than an item can hold; refuse
		// a frame that claims or produces more before allocating for it.
		zstd.WithDecoderMaxMemory(remote.MaxItemSize),
	)
	if err != nil {
		return nil, err
	}
	return &zstdCodec{enc: enc, dec: dec}, nil
})

type zstdCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// compress appends the zstd frame of src to dst.
func (c *zstdCodec) compress(dst, src []byte) []byte { return c.enc.EncodeAll(src, dst) }

// decompress decodes one item's payload, refusing more than limit bytes.
// Its errors do not match remote.ErrCorrupt; the caller adds that.
func (c *zstdCodec) decompress(src []byte, limit int) ([]byte, error) {
	out, err := c.dec.DecodeAll(src, nil)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("decompresses to %d bytes, more than the %d a record may hold", len(out), limit)
	}
	return out, nil
}
