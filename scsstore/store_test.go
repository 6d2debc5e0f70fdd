package scsstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
)

// TestScsBehaviour runs the checks of scs's own store tests (memstore and
// redisstore: TestFind, TestFindMissing, TestCommitNew / TestSaveNew,
// TestCommitUpdated / TestSaveUpdated, TestDelete) against a Store over
// tier.Store. Where those tests look inside their store under the token,
// these look in the remote under the storage key.
func TestScsBehaviour(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f *fixture, s *scsstore.Store, token string)
	}{
		{"Find", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Second))
			if b := mustFind(t, s, token); !bytes.Equal(b, []byte("encoded_data")) {
				t.Fatalf("Find = %q; want %q", b, "encoded_data")
			}
		}},
		{"FindMissing", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustMiss(t, s, token)
		}},
		{"CommitNew", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Minute))
			rec, found, err := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
			if err != nil || !found || !bytes.Equal(rec.Data, []byte("encoded_data")) {
				t.Fatalf("remote holds %q, found %v, err %v; want %q under the storage key", rec.Data, found, err, "encoded_data")
			}
		}},
		{"CommitUpdated", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Minute))
			mustCommit(t, s, token, []byte("new_encoded_data"), f.clock.Now().Add(time.Minute))
			rec, _, err := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
			if err != nil || !bytes.Equal(rec.Data, []byte("new_encoded_data")) || rec.Version != 2 {
				t.Fatalf("remote holds %q version %d, err %v; want %q version 2", rec.Data, rec.Version, err, "new_encoded_data")
			}
			if b := mustFind(t, s, token); !bytes.Equal(b, []byte("new_encoded_data")) {
				t.Fatalf("Find = %q; want %q", b, "new_encoded_data")
			}
		}},
		{"Delete", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Second))
			if err := s.Delete(token); err != nil {
				t.Fatal(err)
			}
			mustMiss(t, s, token)
			if _, found, _ := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token)); found {
				t.Fatal("the remote still holds the deleted session")
			}
		}},
		{"DeleteMissing", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			if err := s.Delete(token); err != nil {
				t.Fatalf("Delete of an absent session = %v; want nil", err)
			}
		}},
		{"FindCopies", func(t *testing.T, f *fixture, s *scsstore.Store, token string) {
			mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Minute))
			b := mustFind(t, s, token)
			b[0] = 'X'
			if b := mustFind(t, s, token); !bytes.Equal(b, []byte("encoded_data")) {
				t.Fatalf("after the caller changed its copy, Find = %q", b)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			_, s := f.node(t, tier.Options{}, scsstore.Options{})
			c.fn(t, f, s, tiersession.NewToken())
		})
	}
}

func TestCtxMethods(t *testing.T) {
	f := newFixture(t)
	_, s := f.node(t, tier.Options{}, scsstore.Options{})
	token := tiersession.NewToken()
	if err := s.CommitCtx(f.ctx, token, []byte("data"), f.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b, found, err := s.FindCtx(f.ctx, token); err != nil || !found || string(b) != "data" {
		t.Fatalf("FindCtx = %q, %v, %v", b, found, err)
	}
	if err := s.DeleteCtx(f.ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindCtx(f.ctx, token); found || err != nil {
		t.Fatalf("FindCtx after DeleteCtx = found %v, err %v", found, err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if err := s.CommitCtx(ctx, tiersession.NewToken(), []byte("data"), f.clock.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CommitCtx with a cancelled context = %v; want context.Canceled", err)
	}
}

// TestExpiry is scs's TestExpiry (commit for 100ms, found, then not),
// with the remote's whole seconds: the expiry is rounded up, never down.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	_, s := f.node(t, tier.Options{}, scsstore.Options{})
	token := tiersession.NewToken()
	start := f.clock.Now() // a whole second
	mustCommit(t, s, token, []byte("encoded_data"), start.Add(100*time.Millisecond))
	mustFind(t, s, token)
	f.clock.Advance(101 * time.Millisecond)
	mustFind(t, s, token) // rounded up to start+1s
	f.clock.Advance(899 * time.Millisecond)
	mustMiss(t, s, token)

	t.Run("rounded up to the second", func(t *testing.T) {
		token := tiersession.NewToken()
		mustCommit(t, s, token, []byte("x"), f.clock.Now().Add(1500*time.Millisecond))
		rec, _, _ := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
		if want := f.clock.Now().Add(2 * time.Second); !rec.ExpiresAt.Equal(want) {
			t.Fatalf("stored expiry %v; want %v", rec.ExpiresAt, want)
		}
	})
	t.Run("past expiry deletes", func(t *testing.T) {
		token := tiersession.NewToken()
		mustCommit(t, s, token, []byte("x"), f.clock.Now().Add(time.Hour))
		before := s.Stats().Expired
		mustCommit(t, s, token, []byte("y"), f.clock.Now().Add(-time.Millisecond))
		mustMiss(t, s, token)
		if _, found, _ := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token)); found {
			t.Fatal("the remote still holds a session committed with a past expiry")
		}
		if got := s.Stats().Expired - before; got != 1 {
			t.Fatalf("Stats.Expired grew by %d; want 1", got)
		}
	})
}

// TestUnchangedRecommit checks that scs's per-request re-commit of an
// unchanged session costs no data write at the remote: a Touch, throttled
// to no request at all while the stored expiry is recent.
func TestUnchangedRecommit(t *testing.T) {
	f := newFixture(t)
	ts, s := f.node(t, tier.Options{}, scsstore.Options{}) // TouchInterval: 1 minute
	token := tiersession.NewToken()
	deadline := f.clock.Now().Add(24 * time.Hour).UTC()
	values := sessionValues()
	first := encode(t, deadline, values)
	mustCommit(t, s, token, first, f.clock.Now().Add(20*time.Minute))
	requests := f.remote.Requests()

	// The same session, encoded again: different bytes, same values.
	again := reencode(t, first, deadline, values)
	f.clock.Advance(time.Second) // within LocalTTL: the copy is local
	mustCommit(t, s, token, again, f.clock.Now().Add(20*time.Minute))
	if n := f.remote.Requests() - requests; n != 0 {
		t.Fatalf("an unchanged re-commit within TouchInterval made %d remote requests; want 0", n)
	}
	if st := ts.Stats(); st.TouchSkipped != 1 {
		t.Fatalf("tier TouchSkipped = %d; want 1", st.TouchSkipped)
	}

	// Past TouchInterval the expiry is written, the data is not.
	f.clock.Advance(2 * time.Minute)
	mustCommit(t, s, token, reencode(t, first, deadline, values), f.clock.Now().Add(20*time.Minute))
	if c, p, tc := f.remote.count("create"), f.remote.count("put"), f.remote.count("touch"); c != 1 || p != 0 || tc != 1 {
		t.Fatalf("remote: %d creates, %d puts, %d touches; want 1, 0, 1", c, p, tc)
	}
	rec, _, _ := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
	if want := f.clock.Now().Add(20 * time.Minute); rec.Version != 1 || !rec.ExpiresAt.Equal(want) || !bytes.Equal(rec.Data, first) {
		t.Fatalf("stored version %d, expiry %v; want version 1, expiry %v, the first bytes", rec.Version, rec.ExpiresAt, want)
	}
	if st := s.Stats(); st.Commits != 3 || st.Writes != 1 || st.Touches != 2 || st.Undecodable != 0 {
		t.Fatalf("Stats = %+v; want 3 commits, 1 write, 2 touches", st)
	}
}

// TestChangedCommit checks that what is not an unchanged re-commit
// writes: other values, another deadline, an earlier expiry (which Touch
// cannot make), bytes that do not decode.
func TestChangedCommit(t *testing.T) {
	deadline := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	changed := sessionValues()
	changed["cart"] = 4
	fewer := sessionValues()
	delete(fewer, "tz")
	cases := []struct {
		name        string
		deadline    time.Time
		values      map[string]any
		raw         []byte        // committed instead of an encoding, when set
		expiry      time.Duration // from now; the first commit's is 20m
		undecodable bool
	}{
		{name: "changed value", deadline: deadline, values: changed, expiry: 20 * time.Minute},
		{name: "removed value", deadline: deadline, values: fewer, expiry: 20 * time.Minute},
		{name: "new deadline", deadline: deadline.Add(time.Hour), values: sessionValues(), expiry: 20 * time.Minute},
		{name: "earlier expiry", deadline: deadline, values: sessionValues(), expiry: 10 * time.Minute},
		{name: "does not decode", raw: []byte("encoded_data"), expiry: 20 * time.Minute, undecodable: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			_, s := f.node(t, tier.Options{}, scsstore.Options{})
			token := tiersession.NewToken()
			mustCommit(t, s, token, encode(t, deadline, sessionValues()), f.clock.Now().Add(20*time.Minute))
			next := c.raw
			if next == nil {
				next = encode(t, c.deadline, c.values)
			}
			mustCommit(t, s, token, next, f.clock.Now().Add(c.expiry))
			if p, tc := f.remote.count("put"), f.remote.count("touch"); p != 1 || tc != 0 {
				t.Fatalf("remote: %d puts, %d touches; want 1 put", p, tc)
			}
			rec, _, _ := f.remote.Memory.Get(f.ctx, tiersession.StorageKey(token))
			if want := f.clock.Now().Add(c.expiry); rec.Version != 2 || !bytes.Equal(rec.Data, next) || !rec.ExpiresAt.Equal(want) {
				t.Fatalf("stored version %d, expiry %v; want version 2, expiry %v, the new bytes", rec.Version, rec.ExpiresAt, want)
			}
			if b := mustFind(t, s, token); !bytes.Equal(b, next) {
				t.Fatal("Find does not return the committed bytes")
			}
			st := s.Stats()
			if st.Writes != 2 || st.Touches != 0 || (st.Undecodable != 0) != c.undecodable {
				t.Fatalf("Stats = %+v", st)
			}
		})
	}
	t.Run("same bytes that do not decode", func(t *testing.T) {
		f := newFixture(t)
		_, s := f.node(t, tier.Options{TouchInterval: -1}, scsstore.Options{})
		token := tiersession.NewToken()
		mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(time.Minute))
		mustCommit(t, s, token, []byte("encoded_data"), f.clock.Now().Add(2*time.Minute))
		if p, tc := f.remote.count("put"), f.remote.count("touch"); p != 0 || tc != 1 {
			t.Fatalf("remote: %d puts, %d touches; want one touch: equal bytes are the same session", p, tc)
		}
	})
}

// TestNodes checks that two nodes, each with its own tier.Store on one
// remote and one bus, see each other's commits.
func TestNodes(t *testing.T) {
	f := newFixture(t)
	_, a := f.node(t, tier.Options{}, scsstore.Options{})
	_, b := f.node(t, tier.Options{}, scsstore.Options{})
	token := tiersession.NewToken()
	deadline := f.clock.Now().Add(time.Hour).UTC()
	exp := f.clock.Now().Add(30 * time.Minute)

	v1 := encode(t, deadline, map[string]any{"user": "alice"})
	mustCommit(t, a, token, v1, exp)
	if got := mustFind(t, b, token); !bytes.Equal(got, v1) {
		t.Fatal("node b does not see node a's new session")
	}
	mustFind(t, a, token) // both nodes now hold it locally

	v2 := encode(t, deadline, map[string]any{"user": "alice", "cart": 1})
	mustCommit(t, b, token, v2, exp)
	f.flush(t)
	if got := mustFind(t, a, token); !bytes.Equal(got, v2) {
		t.Fatal("node a does not see node b's change")
	}
	// An unchanged re-commit on a compares with b's version: no write.
	mustCommit(t, a, token, v2, exp)
	if p := f.remote.count("put"); p != 1 {
		t.Fatalf("remote got %d puts; want only b's", p)
	}

	if err := a.Delete(token); err != nil {
		t.Fatal(err)
	}
	f.flush(t)
	mustMiss(t, b, token)
}

// TestTokenNeverStored drives a session through every path of the Store
// and checks that no key the remote or the bus saw is the token or holds
// it: only the storage key, behind the prefix, travels.
func TestTokenNeverStored(t *testing.T) {
	for _, prefix := range []string{"", "app1:"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			f := newFixture(t)
			_, s := f.node(t, tier.Options{TouchInterval: -1}, scsstore.Options{Prefix: prefix})
			_, other := f.node(t, tier.Options{}, scsstore.Options{Prefix: prefix})
			token := tiersession.NewToken()
			deadline := f.clock.Now().Add(time.Hour).UTC()
			v1 := encode(t, deadline, sessionValues())
			mustCommit(t, s, token, v1, f.clock.Now().Add(time.Minute))                                           // create
			mustFind(t, other, token)                                                                             // remote read
			mustCommit(t, s, token, reencode(t, v1, deadline, sessionValues()), f.clock.Now().Add(2*time.Minute)) // touch
			mustCommit(t, other, token, []byte("v2"), f.clock.Now().Add(2*time.Minute))                           // put
			mustCommit(t, s, token, []byte("v3"), f.clock.Now().Add(2*time.Minute))                               // conflict, update
			mustCommit(t, s, token, []byte("v3"), f.clock.Now().Add(-time.Second))                                // expired: delete
			f.flush(t)

			want := prefix + tiersession.StorageKey(token)
			keys := append(f.remote.seen(), f.bus.seen()...)
			if len(keys) == 0 {
				t.Fatal("nothing reached the remote")
			}
			for _, k := range keys {
				if k != want || strings.Contains(k, token) {
					t.Fatalf("a request carried key %q; want only %q", k, want)
				}
			}
			for _, op := range []string{"get", "create", "put", "touch", "delete"} {
				if f.remote.count(op) == 0 {
					t.Errorf("no %s reached the remote: the test does not cover it", op)
				}
			}
		})
	}
}

func TestMalformedToken(t *testing.T) {
	good := tiersession.NewToken()
	// 43 characters carry 258 bits for 256: a canonical token's last
	// character has its two low bits clear. Setting one gives a token
	// that decodes to the same bytes but is not how scs spells it.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	noncanonical := good[:len(good)-1] + string(alphabet[strings.IndexByte(alphabet, good[len(good)-1])|1])
	tokens := map[string]string{
		"empty":         "",
		"scs test name": "session_token",
		"too long":      good + "A",
		"too short":     good[:len(good)-1],
		"std base64":    strings.Repeat("+", len(good)),
		"not canonical": noncanonical,
	}
	for name, token := range tokens {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			_, s := f.node(t, tier.Options{}, scsstore.Options{})
			mustMiss(t, s, token)
			if err := s.Delete(token); err != nil {
				t.Fatalf("Delete = %v; want nil", err)
			}
			if err := s.Commit(token, []byte("x"), f.clock.Now().Add(time.Minute)); !errors.Is(err, scsstore.ErrInvalidToken) {
				t.Fatalf("Commit = %v; want ErrInvalidToken", err)
			}
			if n := f.remote.Requests(); n != 0 {
				t.Fatalf("a malformed token cost %d remote requests; want 0", n)
			}
			if st := s.Stats(); st.Refused != 3 {
				t.Fatalf("Stats.Refused = %d; want 3", st.Refused)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	f := newFixture(t)
	ts, _ := f.node(t, tier.Options{}, scsstore.Options{})
	cases := []struct {
		name string
		b    scsstore.Backend
		opts scsstore.Options
		ok   bool
	}{
		{"defaults", ts, scsstore.Options{}, true},
		{"nil backend", nil, scsstore.Options{}, false},
		{"prefix", ts, scsstore.Options{Prefix: "shop/"}, true},
		{"long prefix", ts, scsstore.Options{Prefix: strings.Repeat("p", scsstore.MaxPrefixLen+1)}, false},
		{"prefix not UTF-8", ts, scsstore.Options{Prefix: "p\xff"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := scsstore.NewWithOptions(c.b, c.opts)
			if c.ok && err != nil {
				t.Fatalf("NewWithOptions = %v", err)
			}
			if !c.ok && !errors.Is(err, scsstore.ErrBadOptions) {
				t.Fatalf("NewWithOptions = %v; want ErrBadOptions", err)
			}
		})
	}
	t.Run("New panics on nil", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("New(nil) did not panic")
			}
		}()
		scsstore.New(nil)
	})
}
