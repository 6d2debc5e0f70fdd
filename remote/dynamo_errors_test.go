package remote_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// op is one store call on a record created at version 1.
type op struct {
	name string
	call func(ctx context.Context, s remote.Store, rec remote.Record) error
	// applied is the stored version once the call took effect (0:
	// deleted).
	applied uint64
}

var writeOps = []op{
	{"Put", func(ctx context.Context, s remote.Store, rec remote.Record) error {
		rec.Data = []byte("next")
		_, err := s.Put(ctx, rec, 1)
		return err
	}, 2},
	{"Touch", func(ctx context.Context, s remote.Store, rec remote.Record) error {
		_, err := s.Touch(ctx, rec.Key, rec.ExpiresAt.Add(time.Hour))
		return err
	}, 1},
	{"Delete", func(ctx context.Context, s remote.Store, rec remote.Record) error {
		return s.Delete(ctx, rec.Key, 1)
	}, 0},
}

// TestDynamoWriteFaults injects faults between the client and dynalite and
// checks how writes settle: success when the write id proves an earlier
// attempt landed, ErrUnknownOutcome when the write may have landed,
// ErrUnavailable when it surely did not.
func TestDynamoWriteFaults(t *testing.T) {
	const attempts = fixtureAttempts
	tests := []struct {
		name    string
		faults  []dynamotest.Fault
		wantErr error  // nil: success
		notErr  error  // must not match
		wantMsg string // in the error message
		applied bool   // the write reached the table
	}{
		{name: "first response lost", faults: []dynamotest.Fault{dynamotest.LoseResponse}, applied: true},
		{name: "server error then success", faults: []dynamotest.Fault{dynamotest.ServerError}, applied: true},
		{name: "throttled then success", faults: []dynamotest.Fault{dynamotest.Throttle}, applied: true},
		{
			name:    "every response lost",
			faults:  slices.Repeat([]dynamotest.Fault{dynamotest.LoseResponse}, attempts),
			wantErr: remote.ErrUnknownOutcome, notErr: remote.ErrUnavailable,
			wantMsg: "InternalServerError", applied: true,
		},
		{
			name:    "server error on every attempt",
			faults:  slices.Repeat([]dynamotest.Fault{dynamotest.ServerError}, attempts),
			wantErr: remote.ErrUnknownOutcome, notErr: remote.ErrUnavailable,
			wantMsg: "InternalServerError",
		},
		{
			name:    "throttled on every attempt",
			faults:  slices.Repeat([]dynamotest.Fault{dynamotest.Throttle}, attempts),
			wantErr: remote.ErrUnavailable, notErr: remote.ErrUnknownOutcome,
			wantMsg: "ThrottlingException",
		},
		{
			// The last error is a clean rejection, but the first attempt
			// landed: only the attempt log can tell.
			name:    "response lost, then throttled",
			faults:  append([]dynamotest.Fault{dynamotest.LoseResponse}, slices.Repeat([]dynamotest.Fault{dynamotest.Throttle}, attempts-1)...),
			wantErr: remote.ErrUnknownOutcome, notErr: remote.ErrUnavailable,
			wantMsg: "ThrottlingException", applied: true,
		},
	}
	for _, o := range writeOps {
		t.Run(o.name, func(t *testing.T) {
			f := newFixture(t, remote.DynamoOptions{})
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rec := f.create(t, "v1")
					before := f.faults.Requests()
					f.faults.Inject(tt.faults...)
					err := o.call(context.Background(), f.store, rec)
					if p := f.faults.Pending(); p != 0 {
						t.Fatalf("%d injected faults unused; the call made %d requests", p, f.faults.Requests()-before)
					}
					if tt.wantErr == nil && err != nil {
						t.Fatalf("err = %v; want success", err)
					}
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) || errors.Is(err, tt.notErr) {
							t.Fatalf("err = %v; want %v and not %v", err, tt.wantErr, tt.notErr)
						}
						if !strings.Contains(err.Error(), tt.wantMsg) {
							t.Fatalf("err = %q; want it to mention %s", err, tt.wantMsg)
						}
						wantNoSDKError(t, err)
					}
					want := uint64(1)
					if tt.applied {
						want = o.applied
					}
					if got := f.version(t, rec.Key); got != want {
						t.Fatalf("stored version %d after the call; want %d (applied=%v)", got, want, tt.applied)
					}
				})
			}
		})
	}
}

// TestDynamoUnavailable checks errors that surely left nothing written.
func TestDynamoUnavailable(t *testing.T) {
	ctx := context.Background()
	endpoint := dynamotest.Endpoint(t)
	closed := closedEndpoint(t)
	fast := func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 }
	tests := []struct {
		name    string
		client  *dynamodb.Client
		table   string
		wantMsg string
	}{
		{"missing table", dynamotest.NewClient(t, endpoint, fast), "no-such-table", "ResourceNotFoundException"},
		{"connection refused", dynamotest.NewClient(t, closed, fast), "any-table", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDynamo(t, tt.client, remote.DynamoOptions{Table: tt.table})
			rec := remote.Record{Key: remotetest.Key(t), Data: []byte("SECRET-PAYLOAD"), ExpiresAt: farFuture()}
			_, _, getErr := d.Get(ctx, rec.Key)
			_, createErr := d.Create(ctx, rec)
			_, putErr := d.Put(ctx, rec, 1)
			_, touchErr := d.Touch(ctx, rec.Key, farFuture())
			delErr := d.Delete(ctx, rec.Key, 0)
			for name, err := range map[string]error{
				"Get": getErr, "Create": createErr, "Put": putErr, "Touch": touchErr, "Delete": delErr,
			} {
				if !errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrUnknownOutcome) {
					t.Errorf("%s: err = %v; want ErrUnavailable (nothing was written)", name, err)
					continue
				}
				if msg := err.Error(); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "SECRET") {
					t.Errorf("%s: err = %q; want it to mention %q and not the payload", name, msg, tt.wantMsg)
				}
				wantNoSDKError(t, err)
			}
		})
	}
}

// closedEndpoint returns the URL of a loopback port nobody listens on.
func closedEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// TestDynamoContext checks that a caller's ended context shows through:
// reads return the context error, writes also ErrUnknownOutcome.
func TestDynamoContext(t *testing.T) {
	f := newFixture(t, remote.DynamoOptions{})
	rec := f.create(t, "v1")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := f.store.Get(c.ctx, rec.Key)
			if !errors.Is(err, c.want) || errors.Is(err, remote.ErrUnavailable) {
				t.Errorf("Get: err = %v; want %v alone", err, c.want)
			}
			wantNoSDKError(t, err)
			for _, o := range writeOps {
				err := o.call(c.ctx, f.store, rec)
				if !errors.Is(err, c.want) || !errors.Is(err, remote.ErrUnknownOutcome) {
					t.Errorf("%s: err = %v; want %v and ErrUnknownOutcome", o.name, err, c.want)
				}
				wantNoSDKError(t, err)
			}
		})
	}
	if got := f.version(t, rec.Key); got != 1 {
		t.Fatalf("stored version %d; calls with an ended context must not write", got)
	}
}
