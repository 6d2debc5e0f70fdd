package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

// EnsureTable on DynamoDB Local, which has the TTL API dynalite lacks.

func TestDynamoLocalEnsureTable(t *testing.T) {
	ctx := context.Background()

	t.Run("enables TTL, then is idempotent", func(t *testing.T) {
		calls := new(callLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), calls.option)
		name := localTable(t, client)
		d := newDynamo(t, client, remote.DynamoOptions{Table: name})
		if err := d.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if !d.TTLEnabled() {
			t.Fatal("TTLEnabled = false after EnsureTable on a server with the TTL API")
		}
		wantTTL(t, client, name, types.TimeToLiveStatusEnabled)

		// A second store on the ready table only reads its description.
		n := calls.len()
		again := newDynamo(t, client, remote.DynamoOptions{Table: name})
		if err := again.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if !again.TTLEnabled() {
			t.Error("TTLEnabled = false after EnsureTable found TTL enabled")
		}
		var ops []string
		for _, c := range calls.since(n) {
			ops = append(ops, c.op)
		}
		if got := strings.Join(ops, " "); got != "DescribeTable DescribeTimeToLive" {
			t.Errorf("EnsureTable on a ready table sent %s; want DescribeTable DescribeTimeToLive", got)
		}
	})

	t.Run("TTL on another attribute", func(t *testing.T) {
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
		name := localTable(t, client)
		d := newDynamo(t, client, remote.DynamoOptions{Table: name})
		if err := d.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		// Swap the TTL attribute: disable it on exp, enable it on
		// another one.
		for _, spec := range []types.TimeToLiveSpecification{
			{AttributeName: aws.String("exp"), Enabled: aws.Bool(false)},
			{AttributeName: aws.String("expires"), Enabled: aws.Bool(true)},
		} {
			_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: aws.String(name), TimeToLiveSpecification: &spec,
			})
			if err != nil {
				t.Fatalf("UpdateTimeToLive %s=%v: %v", *spec.AttributeName, *spec.Enabled, err)
			}
		}
		err := newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx)
		if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), "expires") {
			t.Fatalf("EnsureTable with TTL on expires: err = %v; want ErrInvalid naming the attribute", err)
		}
		wantNoSDKError(t, err)
	})

	// Two callers, as two nodes starting at once, race through every
	// step of EnsureTable on a missing table. A proxy in front of the
	// server forces the worst interleaving every run: both find no table
	// and both create it (one is told it exists: ResourceInUseException);
	// both find TTL disabled and both enable it, one after the other (the
	// second is told it already is: ValidationException).
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, endpoint, table string) []error
	}{
		{"two goroutines", ensureTableInGoroutines},
		{"two processes", ensureTableInProcesses},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
			name := localTable(t, client)
			proxy := newStagingProxy(t, dynamotest.LocalEndpoint(t), 2,
				[]string{"CreateTable", "DescribeTimeToLive"}, []string{"UpdateTimeToLive"})
			for _, err := range tt.run(t, proxy.URL, name) {
				if err != nil {
					t.Errorf("concurrent EnsureTable: %v", err)
				}
			}
			proxy.check(t)
			for op, want := range map[string][]string{
				"CreateTable":      {"", "ResourceInUseException"},
				"UpdateTimeToLive": {"", "ValidationException"},
			} {
				if got := proxy.codes(op); !slices.Equal(got, want) {
					t.Errorf("%s answers %q; want %q", op, got, want)
				}
			}
			wantTTL(t, client, name, types.TimeToLiveStatusEnabled)
			d := newDynamo(t, client, remote.DynamoOptions{Table: name})
			if _, err := d.Create(ctx, remote.Record{Key: "k", Data: []byte("v"), ExpiresAt: farFuture()}); err != nil {
				t.Fatalf("Create on the table the callers made: %v", err)
			}
		})
	}
}

// ensureTableInGoroutines runs EnsureTable on table at endpoint in two
// goroutines, each with its own client, and returns their errors.
func ensureTableInGoroutines(t *testing.T, endpoint, table string) []error {
	errs := make(chan error, 2)
	for range 2 {
		d := newDynamo(t, dynamotest.NewClient(t, endpoint), remote.DynamoOptions{Table: table})
		go func() { errs <- d.EnsureTable(context.Background()) }()
	}
	return []error{<-errs, <-errs}
}

// ensureTableInProcesses runs EnsureTable on table at endpoint in two
// processes (this test binary, running TestDynamoLocalEnsureTableChild)
// and returns their failures.
func ensureTableInProcesses(t *testing.T, endpoint, table string) []error {
	errs := make(chan error, 2)
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDynamoLocalEnsureTableChild$", "-test.v")
		cmd.Env = append(os.Environ(), ensureTableChildEnv+"="+endpoint+" "+table)
		go func() {
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("child process: %w; output:\n%s", err, out)
			}
			errs <- err
		}()
	}
	return []error{<-errs, <-errs}
}

// ensureTableChildEnv holds "endpoint table" for
// TestDynamoLocalEnsureTableChild.
const ensureTableChildEnv = "REMOTE_TEST_ENSURE_TABLE"

// TestDynamoLocalEnsureTableChild is the child process of "two processes"
// above: it runs EnsureTable once and fails if it fails. It skips unless
// started by that test.
func TestDynamoLocalEnsureTableChild(t *testing.T) {
	endpoint, name, ok := strings.Cut(os.Getenv(ensureTableChildEnv), " ")
	if !ok {
		t.Skip("the child process of TestDynamoLocalEnsureTable/two_processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := newDynamo(t, dynamotest.NewClient(t, endpoint), remote.DynamoOptions{Table: name})
	if err := d.EnsureTable(ctx); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
	if !d.TTLEnabled() {
		t.Fatal("TTLEnabled = false")
	}
}

// wantTTL fails unless DescribeTimeToLive reports status on exp.
func wantTTL(t *testing.T, client *dynamodb.Client, name string, status types.TimeToLiveStatus) {
	t.Helper()
	out, err := client.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	desc := out.TimeToLiveDescription
	if desc == nil || desc.TimeToLiveStatus != status || aws.ToString(desc.AttributeName) != "exp" {
		t.Fatalf("DescribeTimeToLive = %+v; want %s on exp", desc, status)
	}
}

// stagingProxy is a reverse proxy to a DynamoDB server that stages how
// the requests of n callers interleave. The first n requests of each
// "together" operation are held until all n have arrived, then forwarded
// at once, and their answers are held until the server has answered all
// n: no caller can act on its answer (and change what the others are about
// to read) before every one of them was served. The first n of each "one
// by one" operation are forwarded one at a time, each after the previous
// one was answered. Other requests pass straight through.
type stagingProxy struct {
	*httptest.Server
	n        int
	oneByOne map[string]bool
	serial   sync.Mutex // held while a one-by-one request is served

	mu      sync.Mutex
	arrived map[string]int           // per staged operation, requests seen
	full    map[string]chan struct{} // per together operation, closed once n arrived
	served  map[string]chan struct{} // per together operation, closed once n were answered
	answers map[string][]string      // per staged operation, error codes ("" for success)
}

// stagingWait bounds how long a request waits for the others, so a caller
// that never sends its request fails the test instead of hanging it.
const stagingWait = 20 * time.Second

func newStagingProxy(t *testing.T, endpoint string, n int, together, oneByOne []string) *stagingProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &stagingProxy{
		n:        n,
		oneByOne: make(map[string]bool),
		arrived:  make(map[string]int),
		full:     make(map[string]chan struct{}),
		served:   make(map[string]chan struct{}),
		answers:  make(map[string][]string),
	}
	for _, op := range together {
		p.full[op] = make(chan struct{})
		p.served[op] = make(chan struct{})
	}
	for _, op := range oneByOne {
		p.oneByOne[op] = true
	}
	next := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		staged, full := p.arrive(op)
		if !staged {
			next.ServeHTTP(w, r)
			return
		}
		if full != nil {
			select {
			case <-full:
			case <-time.After(stagingWait):
			}
		}
		if p.oneByOne[op] {
			p.serial.Lock()
			defer p.serial.Unlock()
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if served := p.answered(op, rec); served != nil {
			select {
			case <-served:
			case <-time.After(stagingWait):
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(p.Close)
	return p
}

// arrive counts a request of op. staged is false if op is not staged or
// its first n requests have been seen; full is the channel a together
// request waits on.
func (p *stagingProxy) arrive(op string) (staged bool, full chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	full, together := p.full[op]
	if !together && !p.oneByOne[op] || p.arrived[op] >= p.n {
		return false, nil
	}
	p.arrived[op]++
	if together && p.arrived[op] == p.n {
		close(full)
	}
	return true, full
}

// answered notes the error code of a staged request's answer. For a
// together operation it returns the channel to wait on before passing the
// answer on.
func (p *stagingProxy) answered(op string, rec *httptest.ResponseRecorder) (served chan struct{}) {
	var code string
	if rec.Code != http.StatusOK {
		var body struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		_, code, _ = strings.Cut(body.Type, "#")
		if code == "" {
			code = fmt.Sprintf("HTTP %d", rec.Code)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[op] = append(p.answers[op], code)
	served = p.served[op]
	if served != nil && len(p.answers[op]) == p.n {
		close(served)
	}
	return served
}

// codes returns the error codes the staged requests of op got, sorted
// ("" for success).
func (p *stagingProxy) codes(op string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(slices.Values(p.answers[op]))
}

// check fails t unless all n callers sent every staged operation, so the
// interleaving was the one staged.
func (p *stagingProxy) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for op := range p.full {
		if p.arrived[op] != p.n {
			t.Errorf("%d of %d callers sent %s; the interleaving was not forced", p.arrived[op], p.n, op)
		}
	}
	for op := range p.oneByOne {
		if p.arrived[op] != p.n {
			t.Errorf("%d of %d callers sent %s; the interleaving was not forced", p.arrived[op], p.n, op)
		}
	}
}
