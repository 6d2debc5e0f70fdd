// Package scsstore lets applications built on github.com/alexedwards/scs/v2
// keep their sessions in tiersession: an in-process cache in front of
// DynamoDB, kept coherent across nodes. The switch is two lines:
//
//	sessionManager := scs.New()
//	sessionManager.Store = scsstore.New(store) // store is a *tier.Store
//
// A Store implements scs.CtxStore (FindCtx, CommitCtx, DeleteCtx and the
// plain Find, Commit, Delete). What it trades off against scs's own stores:
//
// # The token is never stored
//
// scs hands a store its session token, the secret in the client's cookie.
// The Store keys the session by tiersession.StorageKey(token) (SHA-256,
// base64url), optionally behind Options.Prefix, so the token itself never
// reaches DynamoDB, the invalidation bus, logs or metric labels, and a
// leaked table does not hand out live cookies. This holds with scs's
// HashTokenInStore too (scs then hashes first and the Store hashes again).
// A token that scs cannot have made — anything but 43 characters of
// base64url, which is what scs generates, hashed or not — is refused before
// any request: Find reports it not found, Delete ignores it and Commit fails
// with ErrInvalidToken. So forged cookies cost no DynamoDB read.
//
// # Last writer wins
//
// scs's Commit carries no version: it says "store these bytes", not "store
// these bytes if nobody changed the session since I read it". So through
// scs every write is last-writer-wins, as with every scs store. CommitCtx
// reads the current record (a local hit, normally) and saves over that
// version; if another writer got in between, it saves over theirs
// (tier.Store.Update: reread, consistently where the remote offers it, and
// retry), so two requests of one
// session that both change it keep the changes of whichever committed last,
// whole. The version check underneath still makes each write atomic: no
// commit is ever half applied or mixed with another. Applications that
// need read-modify-write of one session across concurrent requests should
// use tier.Store (or package httpsession) directly.
//
// # Touch instead of re-commit
//
// With an IdleTimeout, scs commits every session on every request to push
// its expiry forward, whether or not anything changed. The Store decodes
// the committed bytes with Options.Codec (which must be the
// SessionManager's Codec; scs.GobCodec by default) and compares the
// decoded deadline and values with those of the stored record — not the
// bytes, since gob writes map entries in random order. When they are
// equal and the expiry does not move earlier, it calls tier.Store.Touch
// instead of writing the data. Touch keeps the version, so it never makes
// a concurrent writer conflict, and it is throttled
// (tier.Options.TouchInterval): a busy session costs no DynamoDB write at
// all until its stored expiry falls TouchInterval behind. The price is that
// an idle session may expire up to TouchInterval earlier than scs
// computed: keep TouchInterval well below IdleTimeout. An unchanged
// re-commit never overwrites another writer's change. Stats counts both
// kinds of commit. When the codec cannot decode either side, or values
// compare unequal only by representation (times in a zone other than
// UTC or Local, for one), the commit writes: a needless write, never a
// lost change.
//
// # Expiry
//
// scs passes an absolute expiry. DynamoDB keeps expiry in whole seconds,
// so the Store rounds it up to the next second (as scs does for the
// cookie): a session may outlive its scs expiry by less than a second,
// never fall short of it. Find reports an expired session as not found. A
// commit whose expiry has already passed deletes the session.
//
// # No iteration
//
// The Store does not implement scs.IterableCtxStore, so
// SessionManager.Iterate panics with it. Iteration would have to list
// every live session: DynamoDB can only do that with a Scan of the whole
// table (cost in proportion to the table, on the request path), and its
// keys are hashes of the tokens, which the Store could not hand back to
// scs anyway.
package scsstore
