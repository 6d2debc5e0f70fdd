// Package dynamotest runs tests against real DynamoDB-compatible servers,
// each pinned in tools/ and started once per test binary, on first use, on
// a free loopback port:
//
//   - dynalite (tools/dynalite, on Node.js): Endpoint and
//     AsyncTablesEndpoint. It starts in well under a second, but ignores
//     ReturnValuesOnConditionCheckFailure and lacks the TTL API and
//     global secondary indexes.
//   - AWS's DynamoDB Local (tools/dynamodb-local, on Java 17):
//     LocalEndpoint, for what dynalite cannot show. Its JVM takes a few
//     seconds to start.
//
// A test package wires it in its TestMain, so the servers stop when the
// tests end:
//
//	func TestMain(m *testing.M) { dynamotest.Run(m) }
//
//	func TestSomething(t *testing.T) {
//		client := dynamotest.NewClient(t, dynamotest.Endpoint(t))
//		table := dynamotest.NewTable(t, client)
//		store, err := remote.NewDynamo(client, remote.DynamoOptions{Table: table})
//		...
//	}
//
// DYNAMOTEST_SERVER=dynamodblocal makes Endpoint start DynamoDB Local
// instead of dynalite, so a whole test run can use it. Setting
// DYNAMODB_ENDPOINT uses that server for Endpoint and AsyncTablesEndpoint
// and starts nothing; DYNAMODB_LOCAL_ENDPOINT does the same for
// LocalEndpoint. Without an emulator or its runtime (node, java), tests
// skip with the command to install it; under CI=true they fail instead.
// The servers run in their own process groups, killed by Stop and, on
// Linux, by the kernel if the test binary dies first.
//
// FaultTransport, through NewFaultClient, sits between the client and the
// server to count requests and to inject lost responses, server errors and
// throttling into item writes.
//
// DynamoDB creates and deletes tables asynchronously. Endpoint's and
// LocalEndpoint's servers make tables ready at once, for speed;
// AsyncTablesEndpoint's keeps them CREATING and DELETING for a while, as
// DynamoDB does, for tests of code that must wait on a table's status.
// DeleteTable deletes a table in any state and waits until it is gone.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
)

// EndpointEnv names the environment variable that points the tests at an
// already running server instead of an emulator started here.
const EndpointEnv = "DYNAMODB_ENDPOINT"

// ServerEnv names the environment variable that chooses the emulator
// Endpoint starts: Dynalite (the default, also when empty) or
// DynamoDBLocal. It lets a whole test run use DynamoDB Local:
//
//	DYNAMOTEST_SERVER=dynamodblocal go test ./...
const ServerEnv = "DYNAMOTEST_SERVER"

// The emulators ServerEnv chooses from.
const (
	Dynalite      = "dynalite"
	DynamoDBLocal = "dynamodblocal"
)

// Run runs the tests, then stops the shared emulators (those that were
// started) and waits for them to exit. It returns m.Run's exit code; call
// it from TestMain, which may return that code or pass it to os.Exit.
func Run(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Server names the server Endpoint reaches: Dynalite or DynamoDBLocal as
// ServerEnv says, or "" when DYNAMODB_ENDPOINT names a server of unknown
// kind. Tests use it to expect an emulator's known gaps.
func Server() string {
	if os.Getenv(EndpointEnv) != "" {
		return ""
	}
	if s := os.Getenv(ServerEnv); s != "" {
		return s
	}
	return Dynalite
}

// Endpoint returns the URL of the DynamoDB-compatible server for this test
// process: DYNAMODB_ENDPOINT if set, otherwise the emulator ServerEnv
// chooses, started on first use and shared by every test of the binary:
// a dynalite by default, LocalEndpoint's DynamoDB Local with
// DYNAMOTEST_SERVER=dynamodblocal. Without the emulator or its runtime it
// skips tb, or fails it when CI is true.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv(EndpointEnv); ep != "" {
		return ep
	}
	switch server := Server(); server {
	case Dynalite:
	case DynamoDBLocal:
		return LocalEndpoint(tb)
	default:
		tb.Fatalf("dynamotest: %s=%q; want %q or %q", ServerEnv, server, Dynalite, DynamoDBLocal)
		return ""
	}
	return shared.endpointFor(tb)
}

// TableDelay is how long tables of the AsyncTablesEndpoint server stay
// CREATING after CreateTable and DELETING after DeleteTable.
const TableDelay = 250 * time.Millisecond

// AsyncTablesEndpoint is Endpoint for tests of the table lifecycle: a
// second shared dynalite whose tables, like DynamoDB's, are created and
// deleted asynchronously (they stay CREATING or DELETING for TableDelay),
// where Endpoint's are ready at once. Code that does not wait on the table
// status fails against it every time, not once in a while.
// DYNAMODB_ENDPOINT, if set, replaces it too; DYNAMOTEST_SERVER does not
// (DynamoDB Local makes tables ACTIVE at once).
func AsyncTablesEndpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv(EndpointEnv); ep != "" {
		return ep
	}
	return sharedAsync.endpointFor(tb)
}

// unavailable ends tb for a server that could not be had: a skip when the
// emulator is not installed, a failure under CI or for any other reason.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errMissing) && !underCI() {
		tb.Skipf("%v", err)
		return
	}
	tb.Fatalf("%v", err)
}

// underCI reports whether CI is set to a true value ("true", "1", ...).
func underCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// NewClient returns a DynamoDB client for endpoint with static dummy
// credentials and region us-east-1. It reads no AWS configuration files or
// environment. Its connections close when tb ends. opts apply last, for
// example to change retries.
func NewClient(tb testing.TB, endpoint string, opts ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	tr := newHTTPTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	return newClient(endpoint, tr, opts)
}

// NewFaultClient is NewClient with a FaultTransport between the client and
// the server.
func NewFaultClient(tb testing.TB, endpoint string, opts ...func(*dynamodb.Options)) (*dynamodb.Client, *FaultTransport) {
	tb.Helper()
	ft := &FaultTransport{next: newHTTPTransport()}
	tb.Cleanup(ft.CloseIdleConnections)
	return newClient(endpoint, ft, opts), ft
}

func newClient(endpoint string, rt http.RoundTripper, opts []func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "dynamotest", SecretAccessKey: "dynamotest", Source: "dynamotest"}, nil
		}),
		// A generous timeout keeps a wedged server from hanging the tests
		// until go test's own deadline.
		HTTPClient: &http.Client{Transport: rt, Timeout: 30 * time.Second},
	}, opts...)
}

// newHTTPTransport is a transport for one client: keep-alive connections,
// enough idle ones for concurrent tests and benchmarks, no proxy.
func newHTTPTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}
}

// NewTable creates a table named after tb (plus a random suffix, so reruns
// and parallel tests never share one) with remote.Dynamo's EnsureTable,
// which returns once the table is ACTIVE, and deletes it with DeleteTable
// when tb ends. It returns the table name.
func NewTable(tb testing.TB, client *dynamodb.Client) string {
	tb.Helper()
	name := TableName(tb)
	store, err := remote.NewDynamo(client, remote.DynamoOptions{Table: name})
	if err != nil {
		tb.Fatalf("dynamotest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.EnsureTable(ctx); err != nil {
		tb.Fatalf("dynamotest: creating table %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := DeleteTable(ctx, client, name); err != nil {
			tb.Error(err)
		}
	})
	return name
}

// TableName returns a fresh valid table name derived from tb's name.
func TableName(tb testing.TB) string {
	tb.Helper()
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		tb.Fatal(err)
	}
	// Table names allow [a-zA-Z0-9_.-], 3 to 255 characters.
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, tb.Name())
	if len(base) > 200 {
		base = base[:200]
	}
	return base + "-" + hex.EncodeToString(suffix[:])
}

// Bounds of the waits on a table's status. DynamoDB takes seconds to
// create or delete a table; emulators take milliseconds.
const (
	tableWaitMax      = 5 * time.Minute
	tableWaitMinDelay = 20 * time.Millisecond
	tableWaitMaxDelay = 2 * time.Second
)

// fastExists and fastNotExists tune the SDK's table waiters for emulators,
// whose tables change state in milliseconds (the SDK's default first delay
// is 20s).
func fastExists(o *dynamodb.TableExistsWaiterOptions) {
	o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
}

func fastNotExists(o *dynamodb.TableNotExistsWaiterOptions) {
	o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
}

func describe(name string) *dynamodb.DescribeTableInput {
	return &dynamodb.DescribeTableInput{TableName: aws.String(name)}
}

// DeleteTable deletes table name and returns once it is gone. DynamoDB
// creates and deletes tables asynchronously and refuses to delete one that
// is still CREATING or UPDATING, so DeleteTable first waits for the table
// to be ACTIVE, and after the request waits until DescribeTable no longer
// finds it. A table that does not exist, or that someone else is already
// deleting, is not an error.
func DeleteTable(ctx context.Context, client *dynamodb.Client, name string) error {
	out, err := client.DescribeTable(ctx, describe(name))
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return nil
	case err != nil:
		return fmt.Errorf("dynamotest: deleting table %s: %w", name, err)
	}
	if out.Table == nil || out.Table.TableStatus != types.TableStatusDeleting {
		if out.Table == nil || out.Table.TableStatus != types.TableStatusActive {
			err := dynamodb.NewTableExistsWaiter(client, fastExists).Wait(ctx, describe(name), tableWaitMax)
			if err != nil {
				return fmt.Errorf("dynamotest: deleting table %s: waiting for ACTIVE: %w", name, err)
			}
		}
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("dynamotest: deleting table %s: %w", name, err)
		}
	}
	if err := dynamodb.NewTableNotExistsWaiter(client, fastNotExists).Wait(ctx, describe(name), tableWaitMax); err != nil {
		return fmt.Errorf("dynamotest: deleting table %s: waiting until it is gone: %w", name, err)
	}
	return nil
}
