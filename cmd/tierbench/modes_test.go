package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/bench"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

func TestSealFlags(t *testing.T) {
	o, err := parseFlags([]string{"-seal"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if !c.Seal || c.SealEncrypt || c.Payload != bench.SealPayload || c.Sessions != sealSessions || !c.SkipSweep || o.redis != redisNone {
		t.Errorf("-seal: config %+v, redis %q; want its own defaults, no sweep, no Redis", c, o.redis)
	}
	o, err = parseFlags([]string{"-seal", "-seal-encrypt", "-payload", "1500", "-sessions", "50"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.cfg; !c.SealEncrypt || c.Payload != 1500 || c.Sessions != 50 {
		t.Errorf("-seal with -payload and -sessions: config %+v; want them kept", c)
	}
	o, err = parseFlags([]string{"-dynamodb-local", "-consistent-read"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.dynamo.local || !o.dynamo.enabled() || o.dynamo.table != "tierbench" {
		t.Errorf("-dynamodb-local: %+v; want the DynamoDB remote on table tierbench", o.dynamo)
	}
}

// TestSealRun runs a tiny sealing comparison and checks, in the report it
// writes, that compression saves write units.
func TestSealRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-seal", "-workload", "a", "-sessions", "100", "-concurrency", "2", "-duration", "30s", "-max-ops", "300",
		"-warmup", "0", "-no-latency", "-out", out}
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit code %d\nstderr: %s", code, stderr.String())
	}
	for _, want := range []string{"sealing comparison:", "remote-only/plain", "remote-only/zstd", "WRU per M req"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "redis:") {
		t.Errorf("the sealing comparison mentions Redis:\n%s", stdout.String())
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Systems) != 2 {
		t.Fatalf("report.json: %v, %d systems; want 2", err, len(rep.Systems))
	}
	plain, packed := rep.Systems[0], rep.Systems[1]
	if plain.Bill == nil || packed.Bill == nil {
		t.Fatalf("bills %v, %v", plain.Bill, packed.Bill)
	}
	if packed.Bill.WRU >= plain.Bill.WRU || packed.AvgItemBytes >= plain.AvgItemBytes {
		t.Errorf("zstd: %g WRU/M, items of %g B; uncompressed: %g WRU/M, %g B; want zstd lower on both",
			packed.Bill.WRU, packed.AvgItemBytes, plain.Bill.WRU, plain.AvgItemBytes)
	}
}

// TestDynamoDBLocalRun runs a tiny benchmark on a DynamoDB Local that
// -dynamodb-local starts, and checks it is stopped at the end. Without
// java or the pinned jar it skips, or fails under CI=true, as dynamotest's
// tests do.
func TestDynamoDBLocalRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-dynamodb-local", "-sessions", "100", "-payload", "64", "-concurrency", "2", "-duration", "30s", "-max-ops", "100",
		"-warmup", "0", "-sweep", "none", "-nodes", "1", "-redis", "none", "-out", filepath.Join(t.TempDir(), "out")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	if code != exitOK && strings.Contains(stderr.String(), dynamotest.ErrMissing.Error()) {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("DynamoDB Local not available under CI:\n%s", stderr.String())
		}
		t.Skipf("DynamoDB Local not available:\n%s", stderr.String())
	}
	if code != exitOK {
		t.Fatalf("exit code %d\nstderr: %s", code, stderr.String())
	}
	if want := "DynamoDB Local (started for this run) at http://127.0.0.1:"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
	}
	m := regexp.MustCompile(`started for this run on (http://\S+);`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr does not say where DynamoDB Local ran:\n%s", stderr.String())
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("DynamoDB Local still listens on %s after the run", u.Host)
	}
}
