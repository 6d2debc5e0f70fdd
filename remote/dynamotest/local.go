package dynamotest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
