package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// orphanEnv makes the test binary start the emulator it names (Dynalite
// or DynamoDBLocal), print its pid and exit without stopping it: the
// Pdeathsig test's child.
const orphanEnv = "DYNAMOTEST_ORPHAN"

func TestMain(m *testing.M) {
	if name := os.Getenv(orphanEnv); name != "" {
		s, err := emulators[name].start()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println(s.pid)
		os.Exit(0) // no Stop: the kernel must clean up
	}
	Run(m)
}

// emulator is one of the emulators this package starts, for tests that
// run on each.
type emulator struct {
	name      string
	start     func() (*server, error)
	installed func() error // nil, or why start cannot work here
	env       string       // the variable that replaces its shared server
}

var emulators = map[string]emulator{
	Dynalite: {
		name:      Dynalite,
		start:     func() (*server, error) { return startDynalite(0) },
		installed: func() error { _, err := dynaliteBin(); return err },
		env:       EndpointEnv,
	},
	DynamoDBLocal: {
		name:      DynamoDBLocal,
		start:     startLocal,
		installed: func() error { _, _, err := localFiles(); return err },
		env:       LocalEndpointEnv,
	},
}

// need skips or fails t like the emulator's shared endpoint when it is not
// installed, and skips t when an environment variable replaces it (the
// user chose not to run it here). It starts nothing.
func (e emulator) need(t *testing.T) {
	t.Helper()
	if os.Getenv(e.env) != "" {
		t.Skipf("%s is set: %s is not started", e.env, e.name)
	}
	if err := e.installed(); err != nil {
		unavailable(t, err)
	}
}

// forEachEmulator runs f as a subtest per emulator.
func forEachEmulator(t *testing.T, f func(t *testing.T, e emulator)) {
	for _, name := range []string{Dynalite, DynamoDBLocal} {
		t.Run(name, func(t *testing.T) { f(t, emulators[name]) })
	}
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
	_, err := startDynalite(0)
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

// TestNewTableDeletesOnCleanup checks that the table is gone, not merely
// DELETING, once the test that made it has ended, on a server that
// deletes tables at once and on one that takes its time as DynamoDB does.
func TestNewTableDeletesOnCleanup(t *testing.T) {
	for _, server := range []struct {
		name     string
		endpoint func(testing.TB) string
	}{
		{"instant tables", Endpoint},
		{"async tables", AsyncTablesEndpoint},
	} {
		t.Run(server.name, func(t *testing.T) {
			client := NewClient(t, server.endpoint(t))
			var name string
			t.Run("inner", func(t *testing.T) {
				name = NewTable(t, client)
				if status := tableStatus(t, client, name); status != types.TableStatusActive {
					t.Fatalf("table %s after NewTable: status %q; want ACTIVE", name, status)
				}
			})
			if status := tableStatus(t, client, name); status != "" {
				t.Fatalf("table %s after its test ended: status %s; want it gone", name, status)
			}
		})
	}
}

// TestDeleteTable deletes tables in each state DeleteTable may meet them.
func TestDeleteTable(t *testing.T) {
	ctx := context.Background()
	client := NewClient(t, AsyncTablesEndpoint(t))
	create := func(t *testing.T, name string) {
		t.Helper()
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, name string)
		want  types.TableStatus // status before DeleteTable
	}{
		{"absent", func(*testing.T, string) {}, ""},
		{"creating", create, types.TableStatusCreating},
		{"active", func(t *testing.T, name string) {
			create(t, name)
			if err := dynamodb.NewTableExistsWaiter(client, fastExists).Wait(ctx, describe(name), time.Minute); err != nil {
				t.Fatal(err)
			}
		}, types.TableStatusActive},
		{"deleting", func(t *testing.T, name string) {
			create(t, name)
			if err := dynamodb.NewTableExistsWaiter(client, fastExists).Wait(ctx, describe(name), time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		}, types.TableStatusDeleting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := TableName(t)
			tt.setup(t, name)
			if status := tableStatus(t, client, name); status != tt.want {
				t.Fatalf("status before DeleteTable %q; want %q", status, tt.want)
			}
			if err := DeleteTable(ctx, client, name); err != nil {
				t.Fatalf("DeleteTable: %v", err)
			}
			if status := tableStatus(t, client, name); status != "" {
				t.Fatalf("status after DeleteTable %s; want the table gone", status)
			}
		})
	}
}

// tableStatus returns the status of table name; "" when it does not exist.
func tableStatus(t *testing.T, client *dynamodb.Client, name string) types.TableStatus {
	t.Helper()
	out, err := client.DescribeTable(context.Background(), describe(name))
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", name, err)
	}
	return out.Table.TableStatus
}
