package remote_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// TestMain stops the shared emulators when the tests end.
func TestMain(m *testing.M) { dynamotest.Run(m) }

func TestConformanceDynamo(t *testing.T) {
	remotetest.Run(t, dynamoHarness("dynalite", dynamotest.Endpoint, false))
	remotetest.Run(t, dynamoHarness("dynalite/owners", dynamotest.Endpoint, true))
}

// dynamoHarness runs the conformance suite on fresh tables of the server
// endpoint returns, with owners on (an owner index) or off.
func dynamoHarness(name string, endpoint func(testing.TB) string, owners bool) remotetest.Harness {
	return remotetest.Harness{
		Name: name,
		New: func(t testing.TB, now func() time.Time) remotetest.Target {
			opts := remote.DynamoOptions{Now: now}
			if owners {
				opts.OwnerIndex = remote.DefaultOwnerIndex
			}
			f := newFixtureAt(t, endpoint(t), opts)
			return remotetest.Target{
				Owners:     owners,
				CreateHook: func(h func(string)) { remote.SetDynamoCreateHook(f.store, h) },
				Store:      f.store,
				Corrupt: func(t testing.TB, key string) {
					f.putRaw(t, map[string]types.AttributeValue{
						"pk":   &types.AttributeValueMemberS{Value: key},
						"ver":  &types.AttributeValueMemberS{Value: "one"},
						"exp":  secondsAttr(now().Add(time.Hour)),
						"data": &types.AttributeValueMemberB{Value: []byte("payload")},
					})
				},
				LoseNextResponse: f.faults.LoseNextResponse,
				Requests:         f.faults.Requests,
			}
		},
	}
}

// fixture is a Dynamo store on a fresh table of a shared server (dynalite
// unless said otherwise), behind a FaultTransport, plus a plain client for
// raw item access.
type fixture struct {
	admin  *dynamodb.Client
	faults *dynamotest.FaultTransport
	table  string
	store  *remote.Dynamo
	calls  *callLog
}

// fixtureAttempts is how many attempts the fixture's client makes per call:
// the DynamoDB client's default, pinned because the fault cases count on it.
const fixtureAttempts = 4

// newFixture builds a fixture. opts.Table is filled in; the store's client
// retries like the SDK's standard retryer but with a 1ms backoff (throttles
// would otherwise wait about a second each), and logs every call in f.calls.
func newFixture(t testing.TB, opts remote.DynamoOptions) *fixture {
	t.Helper()
	return newFixtureAt(t, dynamotest.Endpoint(t), opts)
}

// newFixtureAt is newFixture on the server at endpoint.
func newFixtureAt(t testing.TB, endpoint string, opts remote.DynamoOptions) *fixture {
	t.Helper()
	f := &fixture{admin: dynamotest.NewClient(t, endpoint), calls: new(callLog)}
	if opts.OwnerIndex == "" {
		f.table = dynamotest.NewTable(t, f.admin)
	} else {
		// EnsureTable below creates it, with the owner index.
		f.table = localTable(t, f.admin)
	}
	var client *dynamodb.Client
	client, f.faults = dynamotest.NewFaultClient(t, endpoint, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = fixtureAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return time.Millisecond, nil
			})
		})
	}, f.calls.option)
	opts.Table = f.table
	f.store = newDynamo(t, client, opts)
	if opts.OwnerIndex != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f.store.EnsureTable(ctx); err != nil {
			t.Fatalf("EnsureTable with an owner index: %v", err)
		}
	}
	return f
}

func newDynamo(t testing.TB, client *dynamodb.Client, opts remote.DynamoOptions) *remote.Dynamo {
	t.Helper()
	d, err := remote.NewDynamo(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// putRaw stores item as is, bypassing the store.
func (f *fixture) putRaw(t testing.TB, item map[string]types.AttributeValue) {
	t.Helper()
	_, err := f.admin.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item})
	if err != nil {
		t.Fatalf("raw PutItem: %v", err)
	}
}

// create stores a fresh record through the store.
func (f *fixture) create(t testing.TB, data string) remote.Record {
	t.Helper()
	rec, err := f.store.Create(context.Background(), remote.Record{
		Key: remotetest.Key(t), Data: []byte(data), ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return rec
}

// version returns the stored version of key, 0 when absent.
func (f *fixture) version(t testing.TB, key string) uint64 {
	t.Helper()
	rec, found, err := f.store.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !found {
		return 0
	}
	return rec.Version
}

// farFuture is an expiry that outlives any test.
func farFuture() time.Time { return time.Now().Add(time.Hour) }

func secondsAttr(t time.Time) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// call is one operation call as the client saw it.
type call struct {
	op         string
	consistent bool // GetItem's ConsistentRead
}

// callLog records every operation call of a client (not the retries).
type callLog struct {
	mu    sync.Mutex
	calls []call
}

func (l *callLog) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("callLog",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				c := call{op: middleware.GetOperationName(ctx)}
				if get, ok := in.Parameters.(*dynamodb.GetItemInput); ok {
					c.consistent = aws.ToBool(get.ConsistentRead)
				}
				l.mu.Lock()
				l.calls = append(l.calls, c)
				l.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// since returns the calls logged after the first n.
func (l *callLog) since(n int) []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls[n:]...)
}

func (l *callLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// wantNoSDKError fails if an SDK error type is reachable through err.
func wantNoSDKError(t testing.TB, err error) {
	t.Helper()
	var apiErr smithy.APIError
	var opErr *smithy.OperationError
	if errors.As(err, &apiErr) || errors.As(err, &opErr) {
		t.Fatalf("an SDK error type leaked out of remote: %#v", err)
	}
}

func TestNewDynamoValidates(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	if _, err := remote.NewDynamo(nil, remote.DynamoOptions{Table: "t"}); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("nil client: err = %v; want ErrInvalid", err)
	}
	if _, err := remote.NewDynamo(client, remote.DynamoOptions{}); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("empty table: err = %v; want ErrInvalid", err)
	}
}

func TestDynamoConsistentRead(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		t.Run(map[bool]string{false: "eventual", true: "consistent"}[consistent], func(t *testing.T) {
			f := newFixture(t, remote.DynamoOptions{ConsistentRead: consistent})
			rec := f.create(t, "x")
			n := f.calls.len()
			if _, found, err := f.store.Get(context.Background(), rec.Key); err != nil || !found {
				t.Fatalf("Get = found %v, err %v", found, err)
			}
			got := f.calls.since(n)
			if len(got) != 1 || got[0].op != "GetItem" || got[0].consistent != consistent {
				t.Fatalf("Get sent %+v; want one GetItem with ConsistentRead=%v", got, consistent)
			}
		})
	}
	t.Run("GetConsistent", func(t *testing.T) {
		f := newFixture(t, remote.DynamoOptions{}) // eventually consistent Gets
		rec := f.create(t, "x")
		n := f.calls.len()
		got, found, err := f.store.GetConsistent(context.Background(), rec.Key)
		if err != nil || !found || got.Version != 1 || string(got.Data) != "x" {
			t.Fatalf("GetConsistent = %+v, found %v, err %v", got, found, err)
		}
		if calls := f.calls.since(n); len(calls) != 1 || calls[0].op != "GetItem" || !calls[0].consistent {
			t.Fatalf("GetConsistent sent %+v; want one consistent GetItem", calls)
		}
	})
	t.Run("read-back after a failed condition", func(t *testing.T) {
		f := newFixture(t, remote.DynamoOptions{}) // eventually consistent Gets
		rec := f.create(t, "x")
		if _, err := f.store.Put(context.Background(), rec, 1); err != nil {
			t.Fatal(err)
		}
		n := f.calls.len()
		_, err := f.store.Put(context.Background(), rec, 1)
		var conflict *remote.ConflictError
		if !errors.As(err, &conflict) || conflict.Current != 2 {
			t.Fatalf("stale Put: err = %v; want a conflict with version 2", err)
		}
		got := f.calls.since(n)
		for _, c := range got[1:] {
			if c.op != "GetItem" || !c.consistent {
				t.Fatalf("calls after the failed UpdateItem: %+v; want only consistent GetItems", got)
			}
		}
		// dynalite ignores ReturnValuesOnConditionCheckFailure, so the
		// store must have read the item back; DynamoDB returns it.
		t.Logf("calls for a conflicting Put: %+v", got)
		if len(got) != 2 && dynaliteRuns() {
			t.Fatalf("calls for a conflicting Put on dynalite: %+v; want UpdateItem then a read-back", got)
		}
	})
}

// dynaliteRuns reports whether dynamotest.Endpoint is the dynalite started
// by dynamotest rather than DynamoDB Local (DYNAMOTEST_SERVER) or a server
// named by DYNAMODB_ENDPOINT.
func dynaliteRuns() bool { return dynamotest.Server() == dynamotest.Dynalite }
