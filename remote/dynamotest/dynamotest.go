// Package dynamotest runs tests against a real DynamoDB-compatible server:
// dynalite, pinned in tools/dynalite, started once per test binary on a
// free loopback port.
//
// A test package wires it in its TestMain, so the server stops when the
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
// Setting DYNAMODB_ENDPOINT (for example to a DynamoDB Local) uses that
// server instead and starts nothing. Without node or the installed
// dynalite, tests skip with the command to install it; under CI=true they
// fail instead.
//
// FaultTransport, through NewFaultClient, sits between the client and the
// server to count requests and to inject lost responses, server errors and
// throttling into item writes.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/tiersession/tiersession/remote"
)

// EndpointEnv names the environment variable that points the tests at an
// already running server instead of a dynalite started here.
const EndpointEnv = "DYNAMODB_ENDPOINT"

// Run runs the tests, then stops the shared dynalite (if one was started)
// and waits for it to exit. It returns m.Run's exit code; call it from
// TestMain, which may return that code or pass it to os.Exit.
func Run(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Endpoint returns the URL of the DynamoDB-compatible server for this test
// process: DYNAMODB_ENDPOINT if set, otherwise a dynalite started on first
// use and shared by every test of the binary. Without node or dynalite it
// skips tb, or fails it when CI is true.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv(EndpointEnv); ep != "" {
		return ep
	}
	ep, err := sharedEndpoint()
	if err != nil {
		unavailable(tb, err)
	}
	return ep
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
// and parallel tests never share one) with remote.Dynamo's EnsureTable, and
// deletes it when tb ends. It returns the table name.
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
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			tb.Errorf("dynamotest: deleting table %s: %v", name, err)
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
