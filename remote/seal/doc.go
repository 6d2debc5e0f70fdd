// Package seal wraps a remote.Store so that session data is compressed and
// encrypted on its way to the remote tier, and only there: the local tier
// above keeps plaintext, so a cache hit pays for neither.
//
//	keys, _ := seal.NewKeyring(seal.Key{ID: "2026-03", Secret: secret})
//	store, _ := seal.New(dynamo, seal.Options{Keys: keys})
//	// use store wherever a remote.Store goes
//
// A Store seals every record's Data on Create and Put, and opens it on
// Get, GetConsistent, Touch and List; keys, versions, expiries and the
// owner fields pass through unchanged. It implements remote.Store and
// remote.Owners with the same contracts, so the conformance suite in
// remotetest runs against it.
//
// # Sealing
//
// Data longer than Options.CompressAbove (512 bytes) is compressed with
// zstd. With Options.Keys set, the payload is then encrypted with
// AES-256-GCM under a key derived for the item from the provider's
// primary key. The sealed bytes start with a header holding a format
// version, flags (compressed, encrypted), the key's id and a random nonce;
// envelope.go documents the layout. The header, the record's storage key
// and its version are authenticated data, so any altered byte, and any
// ciphertext copied to another item or written back at another version,
// fails to open with remote.ErrCorrupt, counted in Stats.Corrupt.
//
// The version a record is sealed for is the one it will have after the
// write: 1 for Create, expected+1 for Put. Touch changes neither Data nor
// Version, so it passes through without re-sealing.
//
// # Format
//
// The sealed form of a record's Data, format version 1:
//
//	offset  size  field
//	0       1     magic 0xF5, a byte that starts no UTF-8 text, JSON or gob
//	1       1     format version, 1
//	2       1     flags: 0x01 payload compressed (zstd), 0x02 encrypted;
//	              other bits are 0
//	3       1     n, the key id's length: 1..MaxKeyIDLen if encrypted, else 0
//	4       n     key id
//	4+n     24    nonce, only if encrypted: 12 bytes to derive the item key,
//	              12 bytes of GCM nonce
//	...           body: if encrypted, the AES-256-GCM ciphertext of the
//	              payload and its 16-byte tag; otherwise the payload
//
// The payload is Data, zstd-compressed when flag 0x01 is set.
//
// Data that does not start with the magic byte is unsealed (see
// Options.AllowPlaintext).
//
// Encryption: the item key is HKDF-Expand(SHA-256, key, "tiersession/seal
// v1 item key " || nonce[0:12], 32), and the body is AES-256-GCM under it with nonce[12:24]
// and additional data
//
//	header (bytes 0 .. 4+n+24) || version (8 bytes, big-endian) || storage key
//
// so every header bit, the record's version and its storage key are
// authenticated: bytes moved to another item, or written back at another
// version, fail to open. The header gives its own length and the storage
// key comes last, so no two (header, version, key) triples give the same
// additional data.
//
// Why an item key: GCM with random 96-bit nonces must not seal more than
// 2^32 messages under one key, which a busy session store reaches in weeks.
// Deriving a fresh key per item from 96 more random bits makes a repeat of
// the (item key, nonce) pair a 192-bit birthday event, so the primary key
// needs rotating for hygiene only, never for a message count. It costs one
// HMAC-SHA256 and one AES-GCM setup per item, about 2 µs (BenchmarkItemKey).
//
// # Owners
//
// A record's owner fields (Owner, Meta, CreatedAt, Generation; see
// remote.Owners) are not sealed: they go to the inner store as given and
// come back as it stores them. Owner is the key of the inner store's owner
// index and Generation is what revocation compares, so the inner store
// must read both; Meta is what a "your devices" page shows without
// opening Data. So Meta is stored in clear, neither encrypted nor
// authenticated: keep secrets out of it (a device label or a coarse
// location, say, not a token), and pass a pseudonymous Owner
// (remote.HashOwner), as the inner store keeps it as given.
//
// Store implements remote.Owners by forwarding Generation and Revoke to
// the inner store's, and List too, opening each record it returns and
// leaving out, counted in Stats.Corrupt, any that fails to open. It
// implements the interface whatever the inner store is, as
// remote.Dynamo does with or without its owner index: over an inner store
// without remote.Owners its owners are off, and every owner method, and a
// Create with an Owner, fails with remote.ErrInvalid before any request.
// Over remote.Dynamo without an owner index, the inner store refuses them
// the same way.
//
// An owned record leaves less room for Data (remote.MaxOwnedDataSize), and
// the limit holds before sealing as it does for any record (see Trade-offs
// and limits). A Put need not repeat the stored owner fields, so a Put
// whose Data comes within some 700 bytes of remote.MaxDataSize reads them
// first: one more request, for sessions of nearly 400 KB only.
//
// # Keys
//
// A KeyProvider supplies keys by id: the primary one for writes, any known
// one for reads. Keyring is the in-process implementation; a provider for
// a key management service keeps its decrypted data keys in memory and
// answers from there. Rotating the primary key needs no downtime: items
// sealed with older keys still open, and each is re-sealed with the new
// primary on its next write (Keyring's documentation gives the steps for
// a fleet of processes).
//
// An item whose key id the provider does not know is remote.ErrCorrupt (no
// key will ever open it); a provider that fails otherwise, a KMS outage
// say, is remote.ErrUnavailable and the item is left alone.
//
// # Why zstd
//
// DynamoDB bills a write per started KB of item and a read per started
// 4 KB, so compression pays where it crosses a KB boundary. On a 3 KB JSON
// session (testdata/session.json: a signed-in customer with OAuth, CSRF
// and cart; its random tokens do not compress) BenchmarkCodec measured, on
// a shared 2-core AMD EPYC (ranges over three runs):
//
//	codec          bytes  ratio  item WCU  encode       decode
//	none            2999  1.00   4         -            -
//	s2              2087  1.44   3         2.6-2.8 µs   0.9-1.4 µs
//	s2 better       2056  1.46   3         7-9 µs       0.9-1.5 µs
//	zstd fastest    1615  1.86   2         15-23 µs     7-11 µs
//	zstd default    1592  1.88   2         20-27 µs     5-9 µs
//	zstd best       1579  1.90   2         89-99 µs     5 µs
//
// zstd at its fastest level halves the write units of such a session
// where s2 saves a quarter, and both read in one unit. It costs some 15 µs
// more CPU per write and 6 µs per read than s2, against a DynamoDB round
// trip of milliseconds: a write unit costs far more than 15 µs of CPU.
// Higher zstd levels save 1-2% more bytes for 1.2 to 5 times the encode
// time. Sealed with encryption as well, the session is 1661 bytes: still 2
// write units (BenchmarkSeal).
//
// # Trade-offs and limits
//
// Compressing before encrypting makes the sealed size depend on the
// content. Someone who can both put chosen text into a session and watch
// its item size (table metrics, consumed capacity) could learn, byte by
// byte, a secret stored beside that text, as CRIME did with TLS. Session
// payloads seldom give an attacker both; where they might, set
// DisableCompression.
//
// Binding the ciphertext to the storage key and version stops moving and
// replaying items, not restoring one: a record deleted at version 1 and
// written back, raw, as a new version 1 opens again. Whoever can write
// the table can also delete any session; sealing keeps session contents
// confidential and unforgeable, not present. Nor does it bind a record's
// owner fields, which are stored in clear (see Owners): whoever can write
// the table can move a session to another owner, change its Meta, or
// raise its Generation past a revocation.
//
// Data is limited to remote.MaxDataSize(key), less what the owner fields
// take (remote.MaxOwnedDataSize), as on any Store, before sealing; the
// sealed item must fit in remote.MaxItemSize as well, which the inner
// store checks before any request. So compression never admits a larger
// session, and an incompressible one loses Overhead bytes of room.
// Both limits give remote.ErrTooLarge.
//
// Items written before sealing was turned on are refused with
// remote.ErrCorrupt unless Options.AllowPlaintext is set, for the reason
// given there.
//
// GetConsistent uses the inner store's; an inner store without one is read
// with its Get (a store whose Get may be stale is expected to implement
// remote.ConsistentGetter).
package seal
