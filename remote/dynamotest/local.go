package dynamotest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// This file starts AWS's DynamoDB Local, the emulator closest to the
// service: it honours ReturnValuesOnConditionCheckFailure, has the TTL API
// and global secondary indexes, none of which dynalite has. It is a JVM
// that takes a few seconds to start, so it starts only when a test asks for
// it, once per test binary.

// LocalEndpointEnv names the environment variable that points
// LocalEndpoint at an already running DynamoDB Local (for example the
// amazon/dynamodb-local container) instead of one started here.
const LocalEndpointEnv = "DYNAMODB_LOCAL_ENDPOINT"

// localInstallHint says how to get what DynamoDB Local needs; it ends
// every message about a missing DynamoDB Local.
const localInstallHint = "install Java 17 (Debian: `apt-get install openjdk-17-jre-headless`) and the pinned " +
	"DynamoDB Local with `npm ci --prefix tools/dynamodb-local --ignore-scripts` (what `make test` runs), " +
	"or set " + LocalEndpointEnv + " to a running DynamoDB Local"

// localDir is where npm installs DynamoDB Local under the module root: the
// package amplify-dynamodb-simulator ships the jar and its libraries.
var localDir = filepath.Join("tools", "dynamodb-local", "node_modules", "amplify-dynamodb-simulator", "emulator")

// LocalEndpoint returns the URL of AWS's DynamoDB Local for this test
// process: DYNAMODB_LOCAL_ENDPOINT if set, otherwise a DynamoDB Local
// (tools/dynamodb-local) started on a free loopback port on first use and
// shared by every test of the binary; Run stops it. Its tables are ready
// at once. Without java or the installed jar it skips tb, or fails it when
// CI is true.
func LocalEndpoint(tb testing.TB) string {
	tb.Helper()
	if ep := os.Getenv(LocalEndpointEnv); ep != "" {
		return ep
	}
	return sharedLocal.endpointFor(tb)
}

// startLocal locates java and the pinned DynamoDB Local and starts it on a
// free port, in memory, with one database for every credential and region
// (-sharedDb), so clients configured differently see the same tables.
//
// DynamoDB Local has no option to choose its interface: it listens on all
// of them, and is reached here through loopback.
func startLocal() (*server, error) {
	java, dir, err := localFiles()
	if err != nil {
		return nil, err
	}
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	return startOnFreePort(func(port int) (*server, error) {
		cmd := exec.Command(java,
			// A short-lived test server: start fast, stay small.
			"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", jar,
			"-inMemory", "-sharedDb", "-port", strconv.Itoa(port), "-disableTelemetry")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DDB_LOCAL_TELEMETRY=0")
		return launch("DynamoDB Local", cmd, port)
	})
}

// localFiles returns the path of java and the folder holding the pinned
// DynamoDBLocal.jar, or an errMissing error saying how to install what is
// missing.
func localFiles() (java, dir string, err error) {
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", fmt.Errorf("%w: java is not in PATH; %s", errMissing, localInstallHint)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(root, localDir)
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", "", fmt.Errorf("%w: %s not found; %s", errMissing, filepath.Join(dir, "DynamoDBLocal.jar"), localInstallHint)
	}
	return java, dir, nil
}

// ErrMissing is what StartLocal's error matches (errors.Is) when java or
// the pinned DynamoDB Local is not installed; its message says how to
// install them. Tests skip on it, except under CI where they fail.
var ErrMissing = errMissing

// StartLocal starts a DynamoDB Local of its own, for a program rather than
// a test (the tierbench command): the same pinned jar, settings and free
// loopback port as LocalEndpoint's, found from the module root above the
// working directory. It returns the endpoint URL and a stop function that
// kills the process and waits for it (safe to call more than once). On
// Linux the kernel also kills it if the calling program dies first. It
// ignores DYNAMODB_LOCAL_ENDPOINT. When ctx ends before the server
// answers, StartLocal returns ctx's error and stops the server once it is
// up.
func StartLocal(ctx context.Context) (endpoint string, stop func(), err error) {
	type started struct {
		s   *server
		err error
	}
	ch := make(chan started, 1)
	go func() {
		s, err := startLocal()
		ch <- started{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", nil, r.err
		}
		var once sync.Once
		return r.s.endpoint, func() { once.Do(r.s.stop) }, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.stop()
			}
		}()
		return "", nil, ctx.Err()
	}
}
