package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

// EnsureTable's protections (DynamoOptions.KMSKeyID, PointInTimeRecovery,
// DeletionProtection) on DynamoDB Local, which has deletion protection
// but ignores SSE and lacks the continuous backups API, and on dynalite,
// which has none of them. Point-in-time recovery itself is checked against
// a proxy that plays DynamoDB's continuous backups API in front of
// DynamoDB Local.

func TestDynamoLocalEnsureTableOptions(t *testing.T) {
	ctx := context.Background()

	t.Run("defaults send nothing new", func(t *testing.T) {
		inputs := new(inputLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), inputs.option)
		name := localTable(t, client)
		if err := newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		in := inputs.createTable(t)
		if in.SSESpecification != nil || in.DeletionProtectionEnabled != nil {
			t.Errorf("CreateTable with default options: SSESpecification = %+v, DeletionProtectionEnabled = %v; want neither",
				in.SSESpecification, in.DeletionProtectionEnabled)
		}
		inputs.wantNone(t, "UpdateTable", "DescribeContinuousBackups", "UpdateContinuousBackups")
		if protected(t, client, name) {
			t.Error("the table is protected against deletion")
		}
	})

	t.Run("KMS key at creation", func(t *testing.T) {
		inputs := new(inputLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), inputs.option)
		name := localTable(t, client)
		const key = "alias/tiersession-test"
		opts := remote.DynamoOptions{Table: name, KMSKeyID: key, OwnerIndex: remote.DefaultOwnerIndex}
		d := newDynamo(t, client, opts)
		if err := d.EnsureTable(ctx); err != nil {
			t.Fatalf("EnsureTable with KMSKeyID (DynamoDB Local ignores SSE): %v", err)
		}
		sse := inputs.createTable(t).SSESpecification
		if sse == nil || !aws.ToBool(sse.Enabled) || sse.SSEType != types.SSETypeKms || aws.ToString(sse.KMSMasterKeyId) != key {
			t.Errorf("CreateTable SSESpecification = %+v; want enabled, KMS, key %s", sse, key)
		}
		if !d.TTLEnabled() {
			t.Error("TTLEnabled = false")
		}
		// An existing table's encryption is left alone.
		n := inputs.len()
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		inputs.wantOps(t, n, "DescribeTable DescribeTimeToLive")
	})

	t.Run("deletion protection at creation", func(t *testing.T) {
		inputs := new(inputLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), inputs.option)
		name := localTable(t, client)
		unprotectOnCleanup(t, client, name)
		opts := remote.DynamoOptions{Table: name, DeletionProtection: true}
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if in := inputs.createTable(t); !aws.ToBool(in.DeletionProtectionEnabled) {
			t.Error("CreateTable without DeletionProtectionEnabled")
		}
		inputs.wantNone(t, "UpdateTable")
		if !protected(t, client, name) {
			t.Fatal("the table is not protected against deletion")
		}
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if errorCode(err) != "ValidationException" {
			t.Errorf("DeleteTable of the protected table: err = %v; want ValidationException", err)
		}
		// Protected already: only read.
		n := inputs.len()
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		inputs.wantOps(t, n, "DescribeTable DescribeTimeToLive")
		// Off by default: a store without the option leaves it on.
		if err := newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if !protected(t, client, name) {
			t.Error("EnsureTable without DeletionProtection turned the protection off")
		}
	})

	t.Run("deletion protection added to an existing table", func(t *testing.T) {
		inputs := new(inputLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), inputs.option)
		name := localTable(t, client)
		unprotectOnCleanup(t, client, name)
		if err := newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		opts := remote.DynamoOptions{Table: name, DeletionProtection: true, OwnerIndex: remote.DefaultOwnerIndex}
		n := inputs.len()
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		var updates []*dynamodb.UpdateTableInput
		for _, in := range inputs.since(n) {
			if u, ok := in.(*dynamodb.UpdateTableInput); ok && u.DeletionProtectionEnabled != nil {
				updates = append(updates, u)
			}
		}
		if len(updates) != 1 || !aws.ToBool(updates[0].DeletionProtectionEnabled) {
			t.Errorf("EnsureTable sent %d UpdateTable enabling deletion protection; want 1", len(updates))
		}
		if !protected(t, client, name) {
			t.Fatal("the table is not protected against deletion")
		}
		n = inputs.len()
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		inputs.wantOps(t, n, "DescribeTable DescribeTimeToLive")
	})

	t.Run("point-in-time recovery unsupported", func(t *testing.T) {
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
		name := localTable(t, client)
		d := newDynamo(t, client, remote.DynamoOptions{Table: name, PointInTimeRecovery: true})
		err := d.EnsureTable(ctx)
		if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), "point-in-time recovery") {
			t.Fatalf("EnsureTable with PointInTimeRecovery on DynamoDB Local: err = %v; want ErrInvalid saying point-in-time recovery is unsupported", err)
		}
		wantNoSDKError(t, err)
		// The rest was made ready first.
		if !d.TTLEnabled() {
			t.Error("TTLEnabled = false")
		}
		if _, err := d.Create(ctx, remote.Record{Key: "k", Data: []byte("v"), ExpiresAt: farFuture()}); err != nil {
			t.Errorf("Create: %v", err)
		}
	})

	t.Run("point-in-time recovery", func(t *testing.T) {
		backups := newBackupsProxy(t, dynamotest.LocalEndpoint(t), 2)
		inputs := new(inputLog)
		client := dynamotest.NewClient(t, backups.URL, inputs.option)
		name := localTable(t, client)
		opts := remote.DynamoOptions{Table: name, PointInTimeRecovery: true}
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if !backups.enabled() {
			t.Fatal("point-in-time recovery is off after EnsureTable")
		}
		// Refused twice right after the creation, then enabled.
		if got, want := inputs.count("UpdateContinuousBackups"), 3; got != want {
			t.Errorf("UpdateContinuousBackups sent %d times; want %d", got, want)
		}
		n := inputs.len()
		if err := newDynamo(t, client, opts).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		inputs.wantOps(t, n, "DescribeTable DescribeTimeToLive DescribeContinuousBackups")
	})

	t.Run("point-in-time recovery: context ends while unavailable", func(t *testing.T) {
		backups := newBackupsProxy(t, dynamotest.LocalEndpoint(t), 1<<30)
		client := dynamotest.NewClient(t, backups.URL)
		name := localTable(t, client)
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := newDynamo(t, client, remote.DynamoOptions{Table: name, PointInTimeRecovery: true}).EnsureTable(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EnsureTable: err = %v; want the context's error", err)
		}
		wantNoSDKError(t, err)
	})
}

// TestDynamoEnsureTableOptionsDynalite checks what EnsureTable's
// protections do on dynalite, which has none of them.
func TestDynamoEnsureTableOptionsDynalite(t *testing.T) {
	if dynamotest.Server() != dynamotest.Dynalite {
		t.Skip("expects dynalite's gaps")
	}
	ctx := context.Background()
	client := dynamotest.NewClient(t, dynamotest.Endpoint(t))
	for _, tt := range []struct {
		name    string
		opts    remote.DynamoOptions
		wantErr string // "" for success, else a part of the ErrInvalid
	}{
		{"defaults", remote.DynamoOptions{}, ""},
		{"KMS key ignored", remote.DynamoOptions{KMSKeyID: "alias/tiersession-test"}, ""},
		{"deletion protection", remote.DynamoOptions{DeletionProtection: true}, "deletion protection"},
		{"point-in-time recovery", remote.DynamoOptions{PointInTimeRecovery: true}, "point-in-time recovery"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Table = localTable(t, client)
			d := newDynamo(t, client, tt.opts)
			err := d.EnsureTable(ctx)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("EnsureTable: %v", err)
			case tt.wantErr != "" && (!errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("EnsureTable: err = %v; want ErrInvalid about %s", err, tt.wantErr)
			}
			wantNoSDKError(t, err)
			// The table is usable all the same.
			if _, err := d.Create(ctx, remote.Record{Key: "k", Data: []byte("v"), ExpiresAt: farFuture()}); err != nil {
				t.Errorf("Create: %v", err)
			}
		})
	}
}

// protected reports whether DescribeTable shows table name protected
// against deletion.
func protected(t *testing.T, client *dynamodb.Client, name string) bool {
	t.Helper()
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	return aws.ToBool(out.Table.DeletionProtectionEnabled)
}

// unprotectOnCleanup turns table name's deletion protection off when t
// ends, before localTable's cleanup (registered earlier, run later)
// deletes it.
func unprotectOnCleanup(t *testing.T, client *dynamodb.Client, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName: aws.String(name), DeletionProtectionEnabled: aws.Bool(false),
		})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("turning deletion protection off: %v", err)
		}
	})
}

// inputLog records the input of every operation call of a client.
type inputLog struct {
	mu     sync.Mutex
	ops    []string
	inputs []any
}

func (l *inputLog) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("inputLog",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				l.mu.Lock()
				l.ops = append(l.ops, middleware.GetOperationName(ctx))
				l.inputs = append(l.inputs, in.Parameters)
				l.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

func (l *inputLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ops)
}

// since returns the inputs logged after the first n.
func (l *inputLog) since(n int) []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.inputs[n:]...)
}

func (l *inputLog) count(op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.ops {
		if o == op {
			n++
		}
	}
	return n
}

// createTable returns the input of the only CreateTable call.
func (l *inputLog) createTable(t *testing.T) *dynamodb.CreateTableInput {
	t.Helper()
	var found []*dynamodb.CreateTableInput
	for _, in := range l.since(0) {
		if c, ok := in.(*dynamodb.CreateTableInput); ok {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d CreateTable calls; want 1", len(found))
	}
	return found[0]
}

// wantNone fails t if any of ops was called.
func (l *inputLog) wantNone(t *testing.T, ops ...string) {
	t.Helper()
	for _, op := range ops {
		if n := l.count(op); n != 0 {
			t.Errorf("%s called %d times; want none", op, n)
		}
	}
}

// wantOps fails t unless the operations called after the first n are
// want (space-separated).
func (l *inputLog) wantOps(t *testing.T, n int, want string) {
	t.Helper()
	l.mu.Lock()
	got := strings.Join(l.ops[n:], " ")
	l.mu.Unlock()
	if got != want {
		t.Errorf("EnsureTable sent %s; want %s", got, want)
	}
}

// backupsProxy forwards requests to a DynamoDB server but answers the
// continuous backups API itself, as DynamoDB does for one table: point-in-
// time recovery starts off, and UpdateContinuousBackups is refused with
// ContinuousBackupsUnavailableException the first unavailable times, as
// DynamoDB does right after creating a table.
type backupsProxy struct {
	*httptest.Server
	mu          sync.Mutex
	on          bool
	unavailable int
}

func newBackupsProxy(t *testing.T, endpoint string, unavailable int) *backupsProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &backupsProxy{unavailable: unavailable}
	next := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		switch op {
		case "DescribeContinuousBackups", "UpdateContinuousBackups":
		default:
			next.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if op == "UpdateContinuousBackups" {
			if p.unavailable > 0 {
				p.unavailable--
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ContinuousBackupsUnavailableException",`+
					`"message":"Backups are being enabled for the table"}`)
				return
			}
			p.on = true
		}
		status := "DISABLED"
		if p.on {
			status = "ENABLED"
		}
		fmt.Fprintf(w, `{"ContinuousBackupsDescription":{"ContinuousBackupsStatus":"ENABLED",`+
			`"PointInTimeRecoveryDescription":{"PointInTimeRecoveryStatus":%q}}}`, status)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *backupsProxy) enabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.on
}
