package invalidation

import (
	"encoding/binary"
	"fmt"
)

// formatVersion is the first byte of every encoded Event. A decoder rejects
// versions it does not know (a Redis bus drops such a message and counts a
// decode error), so a new format must be rolled out to every node before
// any node sends it. A signed message (see signedFormat) wraps this
// encoding.
const formatVersion = 1

// The wire format of an Event, as carried by networked buses:
//
//	byte    format version (1)
//	byte    kind (1 changed, 2 touched, 3 deleted, 4 revoked)
//	uvarint version
//	uvarint length of origin (at most MaxOriginLen), then the origin bytes
//	bytes   key: the rest of the message (1 to MaxKeyLen bytes)
//
// A Changed event for a 43-byte key, version 7 and origin "node-a" takes
// 2+1+1+6+43 = 53 bytes.

// MarshalBinary encodes e in the bus wire format. It fails with an error
// matching ErrInvalid when e cannot be carried.
func (e Event) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, e.encodedLen()))
}

// AppendBinary appends the wire encoding of e to b and returns the extended
// slice; on error it returns b unchanged.
func (e Event) AppendBinary(b []byte) ([]byte, error) {
	if err := e.validate(); err != nil {
		return b, err
	}
	b = append(b, formatVersion, byte(e.Kind))
	b = binary.AppendUvarint(b, e.Version)
	b = binary.AppendUvarint(b, uint64(len(e.Origin)))
	b = append(b, e.Origin...)
	b = append(b, e.Key...)
	return b, nil
}

// encodedLen is an upper bound of the encoded size of e.
func (e Event) encodedLen() int {
	return 2 + binary.MaxVarintLen64 + 2 + len(e.Origin) + len(e.Key)
}

// UnmarshalBinary decodes data, as produced by MarshalBinary, into e. It
// rejects anything else with an error matching ErrCorrupt, without
// panicking, and leaves e unchanged then. e does not retain data.
func (e *Event) UnmarshalBinary(data []byte) error {
	ev, err := decodeEvent(string(data))
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// decodeEvent decodes one message. It takes a string because that is what
// go-redis hands over; Key and Origin share its memory.
func decodeEvent(p string) (Event, error) {
	if len(p) < 2 {
		return Event{}, fmt.Errorf("%w: %d bytes, too short", ErrCorrupt, len(p))
	}
	if p[0] != formatVersion {
		return Event{}, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, p[0])
	}
	kind := Kind(p[1])
	if !kind.valid() {
		return Event{}, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, p[1])
	}
	rest := p[2:]
	version, n := uvarint(rest)
	if n <= 0 {
		return Event{}, fmt.Errorf("%w: bad version varint", ErrCorrupt)
	}
	rest = rest[n:]
	originLen, n := uvarint(rest)
	if n <= 0 {
		return Event{}, fmt.Errorf("%w: bad origin length varint", ErrCorrupt)
	}
	rest = rest[n:]
	if originLen > MaxOriginLen || originLen > uint64(len(rest)) {
		return Event{}, fmt.Errorf("%w: origin length %d out of range", ErrCorrupt, originLen)
	}
	origin, key := rest[:originLen], rest[originLen:]
	if len(key) == 0 || len(key) > MaxKeyLen {
		return Event{}, fmt.Errorf("%w: key length %d out of range", ErrCorrupt, len(key))
	}
	return Event{Key: key, Version: version, Kind: kind, Origin: origin}, nil
}

// uvarint is binary.Uvarint over a string: it returns the value and the
// number of bytes read, 0 when p ends inside the varint and a negative
// count when the value overflows 64 bits.
func uvarint(p string) (uint64, int) {
	var x uint64
	var s uint
	for i := 0; i < len(p) && i < binary.MaxVarintLen64; i++ {
		c := p[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	if len(p) >= binary.MaxVarintLen64 {
		return 0, -binary.MaxVarintLen64 // overflow
	}
	return 0, 0
}
