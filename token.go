package tiersession

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// TokenBytes is the entropy of a session token: 256 bits.
const TokenBytes = 32

// TokenLen is the length of a token as NewToken encodes it: base64url
// without padding of TokenBytes bytes.
const TokenLen = 43

// NewToken returns a fresh session token: TokenBytes from crypto/rand,
// base64url without padding. The token is the client's secret: it goes in
// the cookie and nowhere else; the server stores and logs only
// StorageKey(token).
func NewToken() string {
	var b [TokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidToken reports whether token has the exact form NewToken produces:
// TokenLen characters of the base64url alphabet that decode to TokenBytes
// bytes, in canonical form (the unused low bits of the last character are
// zero), so that one token has one spelling. It reads nothing: a session
// layer calls it to refuse a malformed cookie before any remote read.
func ValidToken(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	var b [TokenBytes]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(token))
	return err == nil && n == TokenBytes
}

// StorageKey derives the storage key of a session from its token:
// base64url without padding of SHA-256(token), 43 characters. The store,
// the bus, logs and metrics only ever see this key; a token cannot be
// recovered from it. StorageKey does not validate token (see ValidToken).
func StorageKey(token string) string {
	// One allocation, the result: a token of usual length is hashed from a
	// stack copy (a []byte conversion of a 43-byte string would allocate).
	var sum [sha256.Size]byte
	var buf [64]byte
	if len(token) <= len(buf) {
		sum = sha256.Sum256(buf[:copy(buf[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var out [43]byte // base64url without padding of 32 bytes
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}
