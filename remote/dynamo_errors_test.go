package remote_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

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
// reads return the context error alone; writes also say whether they may
// have been applied. A context that ended before the call leaves nothing
// sent (ErrUnavailable, see remotetest's ContextDone for the rest).
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
				if !errors.Is(err, c.want) || !errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrUnknownOutcome) {
					t.Errorf("%s: err = %v; want %v and ErrUnavailable, not ErrUnknownOutcome", o.name, err, c.want)
				}
				wantNoSDKError(t, err)
			}
		})
	}
	if got := f.version(t, rec.Key); got != 1 {
		t.Fatalf("stored version %d; calls with an ended context must not write", got)
	}
}

// TestDynamoContextDuringCall ends a write's context during the call, at
// a chosen moment: before the request leaves for the server nothing can
// have been written (ErrUnavailable); once it is in flight the write may
// have landed (ErrUnknownOutcome).
func TestDynamoContextDuringCall(t *testing.T) {
	tests := []struct {
		name    string
		when    cancelPoint
		wantErr error
		notErr  error
		sent    bool // the write reached the server, and was applied
	}{
		{"ends while the SDK builds the request", cancelBeforeSend, remote.ErrUnavailable, remote.ErrUnknownOutcome, false},
		{"ends while the request is in flight", cancelInFlight, remote.ErrUnknownOutcome, remote.ErrUnavailable, true},
	}
	f := newFixture(t, remote.DynamoOptions{})
	hook := &cancelHook{}
	client := dynamotest.NewClient(t, dynamotest.Endpoint(t), hook.option)
	store := newDynamo(t, client, remote.DynamoOptions{Table: f.table})
	for _, o := range writeOps {
		t.Run(o.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rec := f.create(t, "v1")
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					writes := hook.arm(tt.when, cancel)
					err := o.call(ctx, store, rec)
					hook.arm(0, nil)
					if !errors.Is(err, context.Canceled) || !errors.Is(err, tt.wantErr) || errors.Is(err, tt.notErr) {
						t.Fatalf("err = %v; want context.Canceled and %v, not %v", err, tt.wantErr, tt.notErr)
					}
					wantNoSDKError(t, err)
					if n := writes.Load(); (n > 0) != tt.sent {
						t.Fatalf("%d write requests reached the server; want sent=%v", n, tt.sent)
					}
					want := uint64(1)
					if tt.sent {
						want = o.applied
					}
					if got := f.version(t, rec.Key); got != want {
						t.Fatalf("stored version %d after the call; want %d", got, want)
					}
				})
			}
		})
	}
}

// cancelPoint is where cancelHook ends a call's context.
type cancelPoint int

const (
	// cancelBeforeSend cancels in the SDK's build step, before the retry
	// loop, signing and the HTTP client.
	cancelBeforeSend cancelPoint = iota + 1
	// cancelInFlight lets an item write reach the server and be applied,
	// then cancels and fails the attempt with the context's error, as a
	// cancellation that races the response would.
	cancelInFlight
)

// cancelHook cancels the context of the next store call at the armed
// point. Calls run one at a time.
type cancelHook struct {
	mu     sync.Mutex
	when   cancelPoint
	cancel context.CancelFunc
	writes *atomic.Int64 // item writes that reached the server
}

// arm sets the point and cancel func for the next call and returns the
// counter of its writes that reach the server.
func (h *cancelHook) arm(when cancelPoint, cancel context.CancelFunc) *atomic.Int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.when, h.cancel, h.writes = when, cancel, new(atomic.Int64)
	return h.writes
}

func (h *cancelHook) state() (cancelPoint, context.CancelFunc, *atomic.Int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.when, h.cancel, h.writes
}

// option installs the hook on a client: a build-step middleware and a
// transport in front of the client's own.
func (h *cancelHook) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc("cancelHook",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (
				middleware.BuildOutput, middleware.Metadata, error,
			) {
				if when, cancel, _ := h.state(); when == cancelBeforeSend {
					cancel()
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	})
	base := o.HTTPClient.(*http.Client)
	next := base.Transport
	o.HTTPClient = &http.Client{Timeout: base.Timeout, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		when, cancel, writes := h.state()
		if !itemWrite(req) {
			return next.RoundTrip(req)
		}
		if writes != nil {
			writes.Add(1)
		}
		if when != cancelInFlight {
			return next.RoundTrip(req)
		}
		resp, err := next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body) // the server has answered: applied
		resp.Body.Close()
		cancel()
		return nil, req.Context().Err()
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// itemWrite reports whether req is a PutItem, UpdateItem or DeleteItem.
func itemWrite(req *http.Request) bool {
	switch strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810.") {
	case "PutItem", "UpdateItem", "DeleteItem":
		return true
	}
	return false
}
