package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// orphanEnv makes the test binary start a dynalite, print its pid and exit
// without stopping it: the Pdeathsig test's child.
const orphanEnv = "DYNAMOTEST_ORPHAN"

func TestMain(m *testing.M) {
	if os.Getenv(orphanEnv) == "1" {
		s, err := startDynalite()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println(s.pid)
		os.Exit(0) // no Stop: the kernel must clean up
	}
	Run(m)
}

// needDynalite skips or fails like Endpoint when dynalite cannot run here,
// and skips when DYNAMODB_ENDPOINT replaces it.
func needDynalite(t *testing.T) {
	t.Helper()
	if os.Getenv(EndpointEnv) != "" {
		t.Skipf("%s is set: dynalite is not started", EndpointEnv)
	}
	Endpoint(t)
}

// recordingTB notes Skipf and Fatalf instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestMissingEmulator(t *testing.T) {
	// A module without tools/dynalite.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := startDynalite()
	if !errors.Is(err, errMissing) || !strings.Contains(err.Error(), "npm ci --prefix tools/dynalite") {
		t.Fatalf("startDynalite without dynalite: err = %v; want errMissing with the install command", err)
	}
	for _, tt := range []struct {
		ci       string
		wantSkip bool
	}{{"", true}, {"false", true}, {"true", false}, {"1", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recordingTB{TB: t}
			unavailable(r, err)
			msg := r.failed
			if tt.wantSkip {
				msg = r.skipped
			}
			if msg == "" || (r.skipped != "" && r.failed != "") {
				t.Fatalf("skipped %q, failed %q; want only a skip=%v", r.skipped, r.failed, tt.wantSkip)
			}
			if !strings.Contains(msg, "npm ci --prefix tools/dynalite") {
				t.Fatalf("message %q lacks the install command", msg)
			}
		})
	}
}

func TestEndpointFromEnv(t *testing.T) {
	t.Setenv(EndpointEnv, "http://127.0.0.1:1")
	if got := Endpoint(t); got != "http://127.0.0.1:1" {
		t.Fatalf("Endpoint = %q; want the %s value", got, EndpointEnv)
	}
}

func TestTableName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	a, b := TableName(t), TableName(t)
	if a == b {
		t.Fatalf("two TableName calls gave %q twice", a)
	}
	t.Run("odd/chars: ü & spaces", func(t *testing.T) {
		if name := TableName(t); !valid.MatchString(name) {
			t.Fatalf("TableName = %q; not a valid table name", name)
		}
	})
}

func TestNewTableDeletesOnCleanup(t *testing.T) {
	client := NewClient(t, Endpoint(t))
	var name string
	t.Run("inner", func(t *testing.T) {
		name = NewTable(t, client)
		if _, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
			t.Fatalf("table %s after NewTable: %v", name, err)
		}
	})
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
	case err == nil && out.Table.TableStatus == types.TableStatusDeleting:
	default:
		t.Fatalf("table %s after its test ended: %+v, err %v; want it deleted or DELETING", name, out, err)
	}
}
