// Package httpsession is a net/http session manager on a tiersession
// store: it owns the token and its cookie, the encoding of the values, the
// tracking of what a request changed, the timeouts, renewal with a grace
// window, and logout.
//
//	sessions, err := httpsession.New(store, httpsession.Options{})
//	...
//	http.ListenAndServeTLS(addr, cert, key, sessions.Handle(mux))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s, _ := httpsession.FromContext(r.Context())
//		n, _ := s.GetInt("visits")
//		s.PutInt("visits", n+1)
//	}
//
// # Tokens and cookies
//
// A token is 256 bits from crypto/rand (tiersession.NewToken); the store
// sees only its SHA-256 (tiersession.StorageKey), and so do the bus, the
// metrics and the logs, which hold neither. A cookie that is not exactly
// the form NewToken produces is refused before any store read; a
// well-formed token that names no session costs one store read, which the
// store's negative cache shares among repeats. In strict mode (the
// default) such a request gets a fresh session under a token the server
// issues: the server never adopts a token it did not issue, which closes
// session fixation by a planted cookie. Renew closes it for a token the
// attacker obtained honestly before the login.
//
// The cookie defaults to __Host-session, Secure, HttpOnly, SameSite=Lax,
// Path=/, host-only, Max-Age = what is left of the Lifetime. Options.Dev
// drops the prefix and Secure for http on localhost. Every response a
// handler writes through the middleware carries Vary: Cookie; one that
// sets the cookie also carries Cache-Control: no-store.
//
// A fresh session is stored, and its cookie sent, only when a request puts
// a value in it: anonymous traffic that never writes costs no store write
// and gets no cookie.
//
// # Changes, not snapshots
//
// A request saves only if it changed something, and then only its own
// changes win: the session remembers which keys the request set or
// removed. The save is a version-checked store.Save of what the request
// read plus its changes; when another request saved in between, the
// conflict is resolved inside store.Update, which re-reads the session and
// applies just this request's keys on top. So two parallel requests that
// change different keys both land, and two that change the same key leave
// the value of the one that saved last (last writer wins, per key). A
// read-modify-write of one key — a counter — by two parallel requests can
// therefore lose one of the increments; give such writers their own keys.
// Under heavy parallel writing to one session, each merge may need
// several attempts: raise tier.Options.MaxUpdateRetries to at least the
// number of parallel writers you expect on one session.
//
// There is no lock, local or distributed: a slow request never blocks
// another one of the same user, at the price of per-key last-writer-wins
// instead of serializable requests.
//
// The save happens when the response starts (first WriteHeader, Write,
// ReadFrom, Flush or Hijack), so a failed save can still become an error
// response (Options.ErrorHandler, a 500 by default) and no response ever
// tells the client that something was saved when it was not.
//
// # Timeouts
//
// A session ends at the earlier of IdleTimeout after its last request and
// Lifetime after its creation. The idle deadline is the record's
// ExpiresAt: a request that changes nothing moves it with the store's
// Touch, which tier throttles (TouchInterval), so a busy read-only session
// costs no data write and almost no writes at all. The creation time is
// in the record and checked on every load, so a session is never served
// past its Lifetime even if DynamoDB's TTL sweep lags (the store already
// hides records past ExpiresAt).
//
// # Renewal and logout
//
// Renew moves the session to a new token: the values go to a new record,
// and the old record becomes a small pointer to it that expires after
// RenewGrace (10s by default). Requests already in flight with the old
// cookie follow the pointer and keep working — their changes land in the
// new record — and after the grace the old token names nothing. The
// pointer holds the new storage key, never the new token, so those
// requests cannot be sent the new cookie; the renewing response carries
// it. A node that follows the pointer reads the new record like any other
// record, eventually consistently on DynamoDB unless the remote is set to
// ConsistentRead (remote.DynamoOptions): in the moment after Renew a
// lagging read can miss the new record, and that request then gets a
// fresh session.
//
// Destroy deletes the record through store.Delete, which drops it from
// every node's local tier through the invalidation bus, and clears the
// cookie.
//
// # Users: "your devices" and "log out everywhere"
//
// With Options.OwnerKey set, SetOwner ties a session to its user at login
// (renewing it, as Renew does), with a little metadata such as a device
// label. List returns the user's sessions for a "your devices" page, each
// with an opaque ID (Session.ID is the current request's, to mark "this
// device"); End ends one of them by its ID; DestroyAll ends them all, on
// every node: from a "log out everywhere" button, or after a password
// change.
//
//	sessions, _ := httpsession.New(store, httpsession.Options{OwnerKey: ownerKey})
//
//	func login(w http.ResponseWriter, r *http.Request) {
//		// ... check the credentials of user ...
//		err := sessions.SetOwner(r, user.ID, map[string]string{"device": deviceLabel(r)})
//	}
//
//	func logoutEverywhere(w http.ResponseWriter, r *http.Request) {
//		err := sessions.DestroyAll(r.Context(), user.ID)
//		err = sessions.Destroy(r) // and this request's cookie
//	}
//
// The store never sees the user id: it indexes a keyed hash of it
// (HMAC-SHA256 under OwnerKey), so the table and its index hold no e-mail
// address or account number, and without the key the hashes cannot be
// reversed by hashing guesses. Keep OwnerKey secret and stable; to change
// it, move the old one to PreviousOwnerKeys. The session's data holds the
// user id, like any value the application puts there (Session.Owner).
//
// DestroyAll holds even for a session created a moment before it, which
// the store's owner index (on DynamoDB, eventually consistent) does not
// list yet, and for a login racing it: see tier.Store.DestroyAll for how,
// and for how soon other nodes stop serving the user's sessions.
//
// # Trade-offs
//
//   - Server-side sessions, not signed cookies: a session can be revoked
//     (Destroy, every node at once) and hold up to the store's item size,
//     at the cost of a store read when a node does not hold it locally.
//     A forged well-formed token costs a read too; tokens carry no MAC, so
//     only malformed ones are refused for free.
//   - Per-key merge, not a lock and not a snapshot: scs-style snapshot
//     saves let the slower of two parallel requests overwrite the other's
//     keys; a per-session lock serializes a user's requests and needs a
//     lease that outlives crashes. The merge costs a re-read and a retry
//     on conflict, and gives per-key last-writer-wins.
//   - Saving when the response starts, not after the handler: an error
//     can still be reported, at the price of wrapping the ResponseWriter
//     (Flush and Hijack are always offered; they report
//     http.ErrNotSupported when the underlying writer lacks them).
//   - The values are decoded on every load, whether the handler reads
//     them or not, so a record that does not decode is found before the
//     handler runs.
//
// # The record
//
// A record's Data is one byte of kind, then either the creation time
// (and, for an owned session, the owner and its meta) and the Codec's
// encoding of the values (a session), or the successor's storage key (a
// pointer). The default BinaryCodec encodes the supported types (string,
// bool, int64, float64, time.Time, []byte) compactly and decodes nothing
// else; gob of arbitrary types is deliberately not offered. A value of
// another type fails at Put.
package httpsession
