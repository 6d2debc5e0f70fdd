package invalidation_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
)

// signMessage builds a signed message the way the documented wire format
// says, independently of the package, with the MAC computed over channel.
func signMessage(tb testing.TB, channel string, k invalidation.Key, e invalidation.Event) []byte {
	tb.Helper()
	enc, err := e.MarshalBinary()
	if err != nil {
		tb.Fatalf("MarshalBinary: %v", err)
	}
	return signRaw(channel, k, enc)
}

// signRaw signs an arbitrary body (normally an encoded event).
func signRaw(channel string, k invalidation.Key, body []byte) []byte {
	msg := append([]byte{2, byte(len(k.ID))}, k.ID...)
	msg = append(msg, body...)
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write([]byte("tiersession/invalidation/v1\x00"))
	mac.Write(binary.AppendUvarint(nil, uint64(len(channel))))
	mac.Write([]byte(channel))
	mac.Write(msg)
	return mac.Sum(msg)
}

// rawPublish PUBLISHes payload on channel with a plain client, as anyone
// with access to Redis can.
func rawPublish(tb testing.TB, c *redis.Client, channel string, payload []byte) {
	tb.Helper()
	n, err := c.Publish(testCtx(tb), channel, payload).Result()
	if err != nil {
		tb.Fatalf("PUBLISH: %v", err)
	}
	if n != 1 {
		tb.Fatalf("PUBLISH reached %d subscribers, want 1", n)
	}
}

// TestRedisDropsForgedAndCorruptMessages publishes hostile messages
// straight on the channel. Each must be dropped and counted, and reach the
// handler neither as an event nor as a gap (which would purge the node).
// The genuine event published afterwards comes through the same
// connection in order, so once it has arrived the hostile one has been
// dealt with.
func TestRedisDropsForgedAndCorruptMessages(t *testing.T) {
	victim := ev(hashKey, 99, invalidation.Deleted, "mallory")
	k1, other := testKey("k1"), testKey("other")
	tests := []struct {
		name             string
		payload          func(t *testing.T) []byte
		wantDecodeErrors uint64
		wantAuthFailures uint64
	}{
		{"garbage", func(*testing.T) []byte { return []byte("not an event") }, 1, 0},
		{"empty", func(*testing.T) []byte { return nil }, 1, 0},
		{"unsigned event", func(t *testing.T) []byte {
			b, err := victim.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, 0, 1},
		{"unknown key id", func(t *testing.T) []byte {
			return signMessage(t, invalidation.DefaultChannel, other, victim)
		}, 0, 1},
		{"known key id, wrong secret", func(t *testing.T) []byte {
			return signMessage(t, invalidation.DefaultChannel, invalidation.Key{ID: k1.ID, Secret: other.Secret}, victim)
		}, 0, 1},
		{"flipped MAC bit", func(t *testing.T) []byte {
			b := signMessage(t, invalidation.DefaultChannel, k1, victim)
			b[len(b)-1] ^= 1
			return b
		}, 0, 1},
		{"tampered event", func(t *testing.T) []byte {
			b := signMessage(t, invalidation.DefaultChannel, k1, ev(hashKey, 99, invalidation.Touched, "mallory"))
			b[2+len(k1.ID)+1] = byte(invalidation.Deleted)
			return b
		}, 0, 1},
		{"signed for another channel", func(t *testing.T) []byte {
			return signMessage(t, "other:channel", k1, victim)
		}, 0, 1},
		{"truncated signed message", func(t *testing.T) []byte {
			return signMessage(t, invalidation.DefaultChannel, k1, victim)[:20]
		}, 1, 0},
		{"authentic but not an event", func(*testing.T) []byte {
			return signRaw(invalidation.DefaultChannel, k1, []byte{1, 9, 9})
		}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			b := newRedisBus(t, srv, invalidation.RedisOptions{}) // signs and verifies with k1
			r := newRecorder()
			subscribe(t, b, r)

			rawPublish(t, srv.NewClient(nil), invalidation.DefaultChannel, tt.payload(t))
			a := newRedisBus(t, srv, invalidation.RedisOptions{})
			genuine := ev(hashKey, 1, invalidation.Changed, "a")
			mustPublish(t, a, genuine)
			r.expect(t, genuine)
			r.noPending(t)
			s := b.Stats()
			if s.DecodeErrors != tt.wantDecodeErrors || s.AuthFailures != tt.wantAuthFailures {
				t.Fatalf("Stats = %+v, want %d decode errors and %d auth failures", s, tt.wantDecodeErrors, tt.wantAuthFailures)
			}
			if s.Received != 1 || s.Gaps != 0 {
				t.Fatalf("Stats = %+v, want only the genuine event received and no gap", s)
			}
		})
	}
}

// TestRedisAcceptsIndependentlySignedMessage is the control for the test
// above: a message signed by signMessage with the right key and channel is
// accepted, so the rejections there are the package's doing.
func TestRedisAcceptsIndependentlySignedMessage(t *testing.T) {
	srv := redistest.Start(t)
	b := newRedisBus(t, srv, invalidation.RedisOptions{})
	r := newRecorder()
	subscribe(t, b, r)
	want := ev(hashKey, 5, invalidation.Touched, "elsewhere")
	rawPublish(t, srv.NewClient(nil), invalidation.DefaultChannel, signMessage(t, invalidation.DefaultChannel, testKey("k1"), want))
	r.expect(t, want)
	if s := b.Stats(); s.AuthFailures != 0 || s.DecodeErrors != 0 {
		t.Fatalf("Stats = %+v, want no drops", s)
	}
}

// TestRedisKeyRotation runs the steps of a key rotation between a sender
// and a receiver: whether the receiver accepts depends only on it knowing
// the sender's first key.
func TestRedisKeyRotation(t *testing.T) {
	a, b := testKey("a"), testKey("b")
	tests := []struct {
		name           string
		sender, receiv []invalidation.Key
		accepted       bool
	}{
		{"same single key", []invalidation.Key{a}, []invalidation.Key{a}, true},
		{"receiver knows the next key", []invalidation.Key{a}, []invalidation.Key{a, b}, true},
		{"receiver signs with the next key, still verifies the old", []invalidation.Key{a}, []invalidation.Key{b, a}, true},
		{"sender signs with the next key, receiver knows it", []invalidation.Key{b, a}, []invalidation.Key{a, b}, true},
		{"old key retired", []invalidation.Key{a}, []invalidation.Key{b}, false},
		{"sender ahead of receiver", []invalidation.Key{b, a}, []invalidation.Key{a}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			sender := newRedisBus(t, srv, invalidation.RedisOptions{Keys: tt.sender})
			receiver := newRedisBus(t, srv, invalidation.RedisOptions{Keys: tt.receiv})
			r := newRecorder()
			subscribe(t, receiver, r)
			e := ev(hashKey, 1, invalidation.Changed, "sender")
			mustPublish(t, sender, e)
			// The receiver's own event, which it always accepts, follows
			// the sender's on the channel.
			own := ev(hashKey, 2, invalidation.Changed, "receiver")
			waitFor(t, "the sender's event to be sent", func() bool { return sender.Stats().Published == 1 })
			mustPublish(t, receiver, own)
			if tt.accepted {
				r.expect(t, e)
			}
			r.expect(t, own)
			r.noPending(t)
			wantFailures := uint64(1)
			if tt.accepted {
				wantFailures = 0
			}
			if s := receiver.Stats(); s.AuthFailures != wantFailures || s.Gaps != 0 {
				t.Fatalf("receiver Stats = %+v, want %d auth failures and no gap", s, wantFailures)
			}
		})
	}
}

// TestRedisInsecure checks what buses with and without keys make of each
// other's messages: an insecure bus takes anything that decodes, a keyed
// one only what its keys sign, and Insecure with Keys (the middle step of
// adopting keys) signs but takes anything.
func TestRedisInsecure(t *testing.T) {
	k := []invalidation.Key{testKey("k1")}
	insecure := invalidation.RedisOptions{Insecure: true}
	keyed := invalidation.RedisOptions{Keys: k}
	both := invalidation.RedisOptions{Keys: k, Insecure: true}
	tests := []struct {
		name             string
		sender, receiver invalidation.RedisOptions
		accepted         bool
	}{
		{"insecure to insecure", insecure, insecure, true},
		{"keyed to insecure", keyed, insecure, true},
		{"insecure to keyed", insecure, keyed, false},
		{"insecure to insecure with keys", insecure, both, true},
		{"insecure with keys to keyed", both, keyed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			sender := newRedisBus(t, srv, tt.sender)
			receiver := newRedisBus(t, srv, tt.receiver)
			r := newRecorder()
			subscribe(t, receiver, r)
			e := ev(hashKey, 1, invalidation.Changed, "sender")
			mustPublish(t, sender, e)
			waitFor(t, "the sender's event to be sent", func() bool { return sender.Stats().Published == 1 })
			own := ev(hashKey, 2, invalidation.Changed, "receiver")
			mustPublish(t, receiver, own)
			if tt.accepted {
				r.expect(t, e)
			}
			r.expect(t, own)
			r.noPending(t)
			if got, want := receiver.Stats().AuthFailures, map[bool]uint64{true: 0, false: 1}[tt.accepted]; got != want {
				t.Fatalf("receiver Stats.AuthFailures = %d, want %d", got, want)
			}
		})
	}
}

func TestNewRedisOptions(t *testing.T) {
	short := invalidation.Key{ID: "short", Secret: make([]byte, invalidation.MinSecretLen-1)}
	tests := []struct {
		name    string
		opts    invalidation.RedisOptions
		wantErr string // empty: NewRedis succeeds
	}{
		{"no keys", invalidation.RedisOptions{}, "Insecure"},
		{"empty key list", invalidation.RedisOptions{Keys: []invalidation.Key{}}, "Insecure"},
		{"insecure without keys", invalidation.RedisOptions{Insecure: true}, ""},
		{"one key", invalidation.RedisOptions{Keys: []invalidation.Key{testKey("k1")}}, ""},
		{"secret too short", invalidation.RedisOptions{Keys: []invalidation.Key{short}}, "secret of 31 bytes"},
		{"short secret among good ones", invalidation.RedisOptions{Keys: []invalidation.Key{testKey("k1"), short}}, "Keys[1]"},
		{"short secret even when insecure", invalidation.RedisOptions{Keys: []invalidation.Key{short}, Insecure: true}, "secret"},
		{"empty id", invalidation.RedisOptions{Keys: []invalidation.Key{{Secret: testKey("x").Secret}}}, "ID of 0 bytes"},
		{"id too long", invalidation.RedisOptions{Keys: []invalidation.Key{testKey(strings.Repeat("i", invalidation.MaxKeyIDLen+1))}}, "ID of 65 bytes"},
		{"longest id", invalidation.RedisOptions{Keys: []invalidation.Key{testKey(strings.Repeat("i", invalidation.MaxKeyIDLen))}}, ""},
		{"duplicate id", invalidation.RedisOptions{Keys: []invalidation.Key{testKey("k1"), testKey("k1")}}, "duplicate"},
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never used
	t.Cleanup(func() { _ = client.Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus, err := invalidation.NewRedis(client, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewRedis: %v", err)
				}
				_ = bus.Close()
				return
			}
			if err == nil {
				_ = bus.Close()
				t.Fatalf("NewRedis succeeded, want an error mentioning %q", tt.wantErr)
			}
			if bus != nil {
				t.Fatalf("NewRedis returned a bus with error %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "invalidation: ") {
				t.Fatalf("NewRedis error %q, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
	t.Run("nil client", func(t *testing.T) {
		if _, err := invalidation.NewRedis(nil, invalidation.RedisOptions{Insecure: true}); err == nil {
			t.Fatal("NewRedis(nil) succeeded")
		}
	})
}

// TestRedisKeysAreCopied changes the caller's secret after NewRedis: the
// bus must keep signing with the secret it was given.
func TestRedisKeysAreCopied(t *testing.T) {
	srv := redistest.Start(t)
	k := testKey("k1")
	k.Secret = append([]byte(nil), k.Secret...)
	keys := []invalidation.Key{k}
	sender := newRedisBus(t, srv, invalidation.RedisOptions{Keys: keys})
	receiver := newRedisBus(t, srv, invalidation.RedisOptions{Keys: []invalidation.Key{testKey("k1")}})
	keys[0].ID = "changed"
	clear(k.Secret)
	r := newRecorder()
	subscribe(t, receiver, r)
	e := ev(hashKey, 1, invalidation.Changed, "sender")
	mustPublish(t, sender, e)
	r.expect(t, e)
}
