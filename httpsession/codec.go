package httpsession

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Codec turns a session's values into bytes and back.
//
// The values a Codec sees are of the supported types only: string, bool,
// int64, float64, time.Time (UTC, no monotonic reading) and []byte; Put
// refuses anything else, so an unsupported value fails where it is set,
// not on a later request. Decode must return values of those same types
// and must refuse, with an error, bytes it did not produce: it reads what
// is stored in the database. An Encode or Decode error is a failed save or
// a corrupt record, never a panic.
type Codec interface {
	Encode(values map[string]any) ([]byte, error)
	Decode(data []byte) (map[string]any, error)
}

// ErrUnsupportedValue is returned by Session.Put for a value of a type the
// session cannot store.
var ErrUnsupportedValue = errors.New("httpsession: unsupported value type")

// errCorrupt is the error of bytes that do not decode.
var errCorrupt = errors.New("httpsession: corrupt session record")

// normalize returns v as the supported type that stores it (int as int64,
// float32 as float64, time.Time in UTC without its monotonic reading,
// []byte copied), or ErrUnsupportedValue.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case string, bool, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("%w: uint %d overflows int64", ErrUnsupportedValue, x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%w: uint64 %d overflows int64", ErrUnsupportedValue, x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case time.Time:
		return x.Round(0).UTC(), nil
	case []byte:
		return slices.Clone(x), nil
	}
	return nil, fmt.Errorf("%w: %T (supported: string, bool, integers, floats, time.Time, []byte)", ErrUnsupportedValue, v)
}

// checkDecoded refuses a decoded map holding a type Put would not store,
// so that a custom Codec's mistake surfaces as a corrupt record.
func checkDecoded(values map[string]any) error {
	for _, v := range values {
		switch v.(type) {
		case string, bool, int64, float64, time.Time, []byte:
		default:
			return fmt.Errorf("%w: codec returned a %T", errCorrupt, v)
		}
	}
	return nil
}

// BinaryCodec is the default Codec: a compact, self-describing encoding of
// the supported types that never runs code chosen by the data (unlike
// gob of arbitrary types) and round-trips every value exactly.
//
//	values  = uvarint(count) entry*           entries in ascending key order
//	entry   = uvarint(len) key  tag  value
//	's' string   uvarint(len) bytes
//	'y' []byte   uvarint(len) bytes
//	'i' int64    varint (zig-zag)
//	'f' float64  8 bytes, IEEE 754 big-endian (NaN and ±Inf included)
//	'T' true, 'F' false (no value bytes)
//	't' time     varint(Unix seconds) uvarint(nanoseconds, < 1e9); UTC
//
// Decode refuses unknown tags, keys out of order or repeated, lengths past
// the end and trailing bytes.
type BinaryCodec struct{}

var _ Codec = BinaryCodec{}

// Encode implements Codec.
func (BinaryCodec) Encode(values map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(values))
	size := binary.MaxVarintLen64
	for k, v := range values {
		keys = append(keys, k)
		size += binary.MaxVarintLen64 + len(k) + 1 + 2*binary.MaxVarintLen64
		switch x := v.(type) {
		case string:
			size += len(x)
		case []byte:
			size += len(x)
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, k)
		switch x := values[k].(type) {
		case string:
			b = appendBytes(append(b, 's'), x)
		case []byte:
			b = appendBytes(append(b, 'y'), string(x))
		case int64:
			b = binary.AppendVarint(append(b, 'i'), x)
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(x))
		case bool:
			if x {
				b = append(b, 'T')
			} else {
				b = append(b, 'F')
			}
		case time.Time:
			b = binary.AppendVarint(append(b, 't'), x.Unix())
			b = binary.AppendUvarint(b, uint64(x.Nanosecond()))
		default:
			return nil, fmt.Errorf("%w: %T under a key", ErrUnsupportedValue, x)
		}
	}
	return b, nil
}

func appendBytes[S string | []byte](b []byte, s S) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decode implements Codec.
func (BinaryCodec) Decode(data []byte) (map[string]any, error) {
	d := decoder{b: data}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // every entry takes at least 2 bytes
		d.fail("count %d exceeds the data", n)
	}
	values := make(map[string]any, min(n, 64))
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := string(d.bytes())
		if d.err == nil && i > 0 && k <= prev {
			d.fail("keys out of order or repeated")
		}
		prev = k
		switch tag := d.byte(); tag {
		case 's':
			values[k] = string(d.bytes())
		case 'y':
			values[k] = slices.Clone(d.bytes())
		case 'i':
			values[k] = d.varint()
		case 'f':
			values[k] = math.Float64frombits(binary.BigEndian.Uint64(d.take(8)))
		case 'T', 'F':
			values[k] = tag == 'T'
		case 't':
			sec, nsec := d.varint(), d.uvarint()
			if nsec >= 1e9 {
				d.fail("nanoseconds %d out of range", nsec)
			}
			values[k] = time.Unix(sec, int64(nsec)).UTC()
		default:
			d.fail("unknown tag %#x", tag)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return values, nil
}

// decoder reads BinaryCodec's format; after the first error every read
// returns zero values and err keeps that error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail("truncated")
		return make([]byte, max(n, 8)) // zero bytes keep callers simple
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte() byte { return d.take(1)[0] }

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length %d past the end", n)
		return nil
	}
	return d.take(int(n))
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}
