package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/tiersession/tiersession/remote"
)

// The sealed format is documented in doc.go, under "Format"; these are its
// constants.
const (
	magic         = 0xF5
	formatV1      = 1
	flagZstd      = 0x01
	flagEncrypted = 0x02
	flagsKnown    = flagZstd | flagEncrypted

	fixedHeaderLen = 4
	saltLen        = 12
	gcmNonceLen    = 12
	nonceLen       = saltLen + gcmNonceLen
	tagLen         = 16

	itemKeyInfo = "tiersession/seal v1 item key "
)

// Overhead is the most bytes sealing adds to Data, for an encrypted item
// whose key id is n bytes long and whose Data is not compressed: header,
// nonce and GCM tag. Unencrypted items carry 4 bytes of header.
func Overhead(n int) int { return fixedHeaderLen + n + nonceLen + tagLen }

// envelope is a parsed sealed item.
type envelope struct {
	flags  byte
	keyID  string
	header []byte // bytes 0 .. end of nonce: authenticated
	nonce  []byte // nonceLen bytes when encrypted
	body   []byte
}

// parse splits sealed bytes into their fields. It does not decrypt or
// decompress. Its errors do not yet match remote.ErrCorrupt.
func parse(b []byte) (envelope, error) {
	if len(b) < fixedHeaderLen {
		return envelope{}, fmt.Errorf("truncated header (%d bytes)", len(b))
	}
	if b[1] != formatV1 {
		return envelope{}, fmt.Errorf("unknown format version %d", b[1])
	}
	e := envelope{flags: b[2]}
	if e.flags&^flagsKnown != 0 {
		return envelope{}, fmt.Errorf("unknown flags %#02x", e.flags)
	}
	n := int(b[3])
	if e.flags&flagEncrypted == 0 {
		if n != 0 {
			return envelope{}, fmt.Errorf("a key id on an unencrypted item")
		}
		e.header, e.body = b[:fixedHeaderLen], b[fixedHeaderLen:]
		return e, nil
	}
	if n == 0 || n > MaxKeyIDLen {
		return envelope{}, fmt.Errorf("key id of %d bytes", n)
	}
	end := fixedHeaderLen + n + nonceLen
	if len(b) < end+tagLen {
		return envelope{}, fmt.Errorf("truncated: %d bytes for a key id of %d", len(b), n)
	}
	e.keyID = string(b[fixedHeaderLen : fixedHeaderLen+n])
	e.header, e.nonce, e.body = b[:end], b[end-nonceLen:end], b[end:]
	return e, nil
}

// appendHeader appends the header of an item with flags (flagEncrypted
// excluded) and, if keyID is not empty, the encrypted flag, the key id and
// a fresh random nonce.
func appendHeader(dst []byte, flags byte, keyID string) []byte {
	if keyID != "" {
		flags |= flagEncrypted
	}
	dst = append(dst, magic, formatV1, flags, byte(len(keyID)))
	if keyID == "" {
		return dst
	}
	dst = append(dst, keyID...)
	n := len(dst)
	dst = append(dst, make([]byte, nonceLen)...)
	// crypto/rand.Read never returns an error; it crashes the program
	// rather than hand out predictable bytes.
	_, _ = rand.Read(dst[n:])
	return dst
}

// additionalData is the GCM additional data of an item: its header, its
// version and its storage key.
func additionalData(header []byte, version uint64, key string) []byte {
	ad := make([]byte, 0, len(header)+8+len(key))
	ad = append(ad, header...)
	ad = binary.BigEndian.AppendUint64(ad, version)
	return append(ad, key...)
}

// itemAEAD returns the AES-256-GCM instance for the item whose nonce is
// nonce, under the KeySize-byte key.
func itemAEAD(key, nonce []byte) (cipher.AEAD, error) {
	itemKey, err := hkdf.Expand(sha256.New, key, itemKeyInfo+string(nonce[:saltLen]), KeySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(itemKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealPayload encrypts payload in place of the header's end: it returns
// header || ciphertext || tag. header must come from appendHeader with a
// key id.
func sealPayload(header, key, payload []byte, version uint64, storageKey string) ([]byte, error) {
	nonce := header[len(header)-nonceLen:]
	aead, err := itemAEAD(key, nonce)
	if err != nil {
		return nil, err
	}
	ad := additionalData(header, version, storageKey)
	return aead.Seal(header, nonce[saltLen:], payload, ad), nil
}

// openPayload decrypts e's body in place with key. Its error is
// ErrCorrupt's reason, without the sentinel.
func openPayload(e envelope, key []byte, version uint64, storageKey string) ([]byte, error) {
	aead, err := itemAEAD(key, e.nonce)
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(e.body[:0], e.nonce[saltLen:], e.body, additionalData(e.header, version, storageKey))
	if err != nil {
		return nil, fmt.Errorf("does not authenticate under key %q (altered, or written under another storage key or version)", e.keyID)
	}
	return out, nil
}

// corrupt wraps a reason into an error matching remote.ErrCorrupt. Reasons
// never contain the payload or the storage key.
func corrupt(reason error) error {
	return fmt.Errorf("%w: seal: %w", remote.ErrCorrupt, reason)
}
