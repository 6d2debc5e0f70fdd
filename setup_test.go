package tiersession_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/invalidation/redistest"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/seal"
	"github.com/tiersession/tiersession/tier"
)

// staticAWS is an AWS configuration that reads nothing from the machine.
func staticAWS() *aws.Config {
	return &aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// tableName is a fresh table name for a test of Open.
func tableName(t testing.TB) string {
	return fmt.Sprintf("open-%s-%d", strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()), time.Now().UnixNano())
}

func TestOpenInMemory(t *testing.T) {
	ctx := context.Background()
	s, err := tiersession.Open(ctx, tiersession.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Remote().(*remote.Memory); !ok {
		t.Fatalf("Remote() = %T; want *remote.Memory without a Table", s.Remote())
	}
	key := tiersession.StorageKey(tiersession.NewToken())
	if _, err := s.Create(ctx, tier.Record{Key: key, Data: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s.Store, key); string(got.Data) != "x" {
		t.Fatalf("Get = %q", got.Data)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.Get(ctx, key); !errors.Is(err, tier.ErrClosed) {
		t.Fatalf("Get after Close: err = %v; want ErrClosed", err)
	}
}

// TestOpenDynamoAndRedis opens two nodes the way a deployment would — a
// table Open creates, a Redis bus with a key, metrics — and checks that
// they share sessions and invalidate each other, and that Close releases
// the metrics (goleak in TestMain checks the goroutines).
func TestOpenDynamoAndRedis(t *testing.T) {
	ctx := context.Background()
	endpoint := dynamotest.Endpoint(t)
	redis := redistest.Start(t)
	table := tableName(t)
	open := func(reg prometheus.Registerer) *tiersession.Store {
		s, err := tiersession.Open(ctx, tiersession.Config{
			Table: table, Endpoint: endpoint, AWS: staticAWS(), EnsureTable: true,
			RedisAddr:  redis.Addr(),
			Bus:        invalidation.RedisOptions{Keys: busKeys},
			Registerer: reg,
			Tier:       tier.Options{LocalTTL: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	regA := prometheus.NewRegistry()
	a, b := open(regA), open(nil)
	defer b.Close()
	if _, ok := a.Remote().(*remote.Dynamo); !ok {
		t.Fatalf("Remote() = %T; want *remote.Dynamo", a.Remote())
	}
	if !a.BusLive() || !b.BusLive() {
		t.Fatal("bus not live after Open with Redis up")
	}

	key := tiersession.StorageKey(tiersession.NewToken())
	rec, err := a.Create(ctx, tier.Record{Key: key, Data: []byte("v1"), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Once b has heard of the create, its read caches v1 for an hour.
	waitStat(t, "b to receive the create", func() bool { return b.Stats().BusReceived >= 1 })
	get(t, b.Store, key)
	rec.Data = []byte("v2")
	if _, err := a.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	waitStat(t, "b to apply the save", func() bool { return b.Stats().BusApplied >= 1 })
	if got := get(t, b.Store, key); got.Version != 2 {
		t.Fatalf("b reads version %d after a's write; want 2", got.Version)
	}

	mfs, err := regA.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
	}
	for _, name := range []string{"tiersession_remote_requests_total", "tiersession_bus_connected", "tiersession_local_hits_total"} {
		if !found[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := regA.Gather(); len(mfs) != 0 {
		t.Fatalf("%d metric families still registered after Close", len(mfs))
	}
}

// TestOpenStandardConfig: without Config.AWS, Open loads the standard AWS
// configuration — here only from the environment, endpoint included.
func TestOpenStandardConfig(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_REGION":                  "eu-west-1",
		"AWS_ENDPOINT_URL_DYNAMODB":   dynamotest.Endpoint(t),
		"AWS_CONFIG_FILE":             "/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	s, err := tiersession.Open(context.Background(), tiersession.Config{Table: tableName(t), EnsureTable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := tiersession.StorageKey(tiersession.NewToken())
	if _, err := s.Create(context.Background(), tier.Record{Key: key, Data: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Create through the standard configuration: %v", err)
	}
}

// TestOpenTableOptions: the table options reach EnsureTable. Neither
// emulator has continuous backups, so asking for them fails clearly.
func TestOpenTableOptions(t *testing.T) {
	_, err := tiersession.Open(context.Background(), tiersession.Config{
		Table: tableName(t), Endpoint: dynamotest.Endpoint(t), AWS: staticAWS(), EnsureTable: true,
		PointInTimeRecovery: true,
	})
	if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), "ecovery") {
		t.Fatalf("Open with PointInTimeRecovery on an emulator: err = %v; want ErrInvalid about recovery", err)
	}
}

func TestOpenErrors(t *testing.T) {
	redis := redistest.Start(t)
	for _, tc := range []struct {
		name string
		cfg  tiersession.Config
		want error
	}{
		{"endpoint without a table", tiersession.Config{Endpoint: "http://127.0.0.1:1"}, tier.ErrBadOptions},
		{"owner index without a table", tiersession.Config{OwnerIndex: "owners"}, tier.ErrBadOptions},
		{"a bus without keys", tiersession.Config{RedisAddr: redis.Addr()}, nil},
		{"bad tier options", tiersession.Config{Tier: tier.Options{LocalTTL: -1}}, tier.ErrBadOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tiersession.Open(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded; want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := tiersession.NewToken()
		if len(tok) != tiersession.TokenLen || !tiersession.ValidToken(tok) {
			t.Fatalf("NewToken() = %q: not a valid token", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken repeated %q", tok)
		}
		seen[tok] = true
		key := tiersession.StorageKey(tok)
		if key == tok || len(key) != 43 || remote.ValidKey(key) != nil {
			t.Fatalf("StorageKey(%q) = %q", tok, key)
		}
	}
	tok := tiersession.NewToken()
	// 43 characters carry 258 bits: in the one spelling of 32 bytes the
	// last character's 2 low bits are 0. Setting one gives another
	// spelling of the same bytes, which ValidToken refuses.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	nonCanonical := tok[:42] + string(alphabet[strings.IndexByte(alphabet, tok[42])|1])
	for _, tc := range []struct{ name, tok string }{
		{"empty", ""},
		{"short", tok[:42]},
		{"long", tok + "A"},
		{"padding", tok[:42] + "="},
		{"standard alphabet", tok[:42] + "+"},
		{"space", tok[:42] + " "},
		{"non-canonical last character", nonCanonical},
		{"invalid UTF-8", tok[:42] + "\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tiersession.ValidToken(tc.tok) {
				t.Fatalf("ValidToken(%q) = true", tc.tok)
			}
		})
	}
	if tiersession.StorageKey("a") == tiersession.StorageKey("b") {
		t.Fatal("StorageKey collides")
	}
}

// waitStat polls cond, which reads counters other goroutines bump.
func waitStat(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStorageKeyIsSHA256 pins the derivation: base64url without padding
// of SHA-256 of the token, for tokens of any length.
func TestStorageKeyIsSHA256(t *testing.T) {
	for _, tok := range []string{"", "a", tiersession.NewToken(), strings.Repeat("x", 64), strings.Repeat("y", 65), strings.Repeat("z", 1000)} {
		sum := sha256.Sum256([]byte(tok))
		if got, want := tiersession.StorageKey(tok), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("StorageKey of a %d-byte token = %q; want %q", len(tok), got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = tiersession.StorageKey("2jmj7l5rSw0yVb_vlWAYkK_YBwk8eY8uXqq-vNwvN1E") }); n > 1 {
		t.Fatalf("StorageKey allocates %v times; want 1 (the result)", n)
	}
}

// TestOpenSealed: with Config.Seal, what reaches DynamoDB is sealed — the
// plaintext is nowhere in the stored item — while the store reads it back.
func TestOpenSealed(t *testing.T) {
	ctx := context.Background()
	keys, err := seal.NewKeyring(seal.Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	table := tableName(t)
	s, err := tiersession.Open(ctx, tiersession.Config{
		Table: table, Endpoint: dynamotest.Endpoint(t), AWS: staticAWS(), EnsureTable: true,
		Seal: &seal.Options{Keys: keys},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Remote().(*seal.Store); !ok {
		t.Fatalf("Remote() = %T; want *seal.Store", s.Remote())
	}
	secret := []byte(strings.Repeat(`{"card":"4111 1111 1111 1111"}`, 40))
	key := tiersession.StorageKey(tiersession.NewToken())
	if _, err := s.Create(ctx, tier.Record{Key: key, Data: secret, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	raw, err := remote.NewDynamo(dynamotest.NewClient(t, dynamotest.Endpoint(t)), remote.DynamoOptions{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	stored, found, err := raw.Get(ctx, key)
	if err != nil || !found {
		t.Fatalf("raw Get = %v, %v", found, err)
	}
	if bytes.Contains(stored.Data, []byte("4111")) || len(stored.Data) >= len(secret) {
		t.Fatalf("the stored item holds %d bytes with the plaintext visible or uncompressed", len(stored.Data))
	}
	// A second node opened the same way reads the plaintext.
	s2, err := tiersession.Open(ctx, tiersession.Config{Table: table, Endpoint: dynamotest.Endpoint(t), AWS: staticAWS(), Seal: &seal.Options{Keys: keys}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := get(t, s2.Store, key); !bytes.Equal(got.Data, secret) {
		t.Fatal("a second node does not read the plaintext back")
	}
}

// TestOpenOwners: with OwnerIndex, Open's table indexes owners, so an
// owned session is listed and DestroyAll ends it.
func TestOpenOwners(t *testing.T) {
	ctx := context.Background()
	s, err := tiersession.Open(ctx, tiersession.Config{
		Table: tableName(t), Endpoint: dynamotest.Endpoint(t), AWS: staticAWS(), EnsureTable: true,
		OwnerIndex: remote.DefaultOwnerIndex,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	owner := tier.HashOwner([]byte("0123456789abcdef"), "alice")
	key := tiersession.StorageKey(tiersession.NewToken())
	if _, err := s.Create(ctx, tier.Record{Key: key, Data: []byte("x"), ExpiresAt: time.Now().Add(time.Hour), Owner: owner}); err != nil {
		t.Fatalf("owned Create: %v", err)
	}
	list, err := s.List(ctx, owner)
	if err != nil || len(list) != 1 || list[0].ID != tier.SessionID(key) {
		t.Fatalf("List = %+v, %v; want the one session", list, err)
	}
	if err := s.DestroyAll(ctx, owner); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, key); found || err != nil {
		t.Fatalf("Get after DestroyAll = found %v, err %v; want not found", found, err)
	}
}
