package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession/bench"
)

func TestBadFlagsAreUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // part of the message
	}{
		{"unknown flag", []string{"-frobnicate"}, "frobnicate"},
		{"positional argument", []string{"b"}, "unexpected argument"},
		{"workload", []string{"-workload", "e"}, "unknown workload"},
		{"distribution", []string{"-dist", "normal"}, "unknown key distribution"},
		{"zipf constant", []string{"-zipf", "1"}, "zipfian constant"},
		{"sessions", []string{"-sessions", "-5"}, "sessions"},
		{"payload", []string{"-payload", "0"}, "-payload 0: must be positive"},
		{"payload too large", []string{"-payload", "500000"}, "payload"},
		{"zero zipf", []string{"-zipf", "0"}, "-zipf"},
		{"zero local ttl", []string{"-local-ttl", "0s"}, "-local-ttl"},
		{"zero nodes", []string{"-nodes", "0"}, "-nodes"},
		{"concurrency", []string{"-concurrency", "-1"}, "concurrency"},
		{"duration", []string{"-duration", "0s"}, "-duration"},
		{"local fraction", []string{"-local-fraction", "2"}, "local fraction"},
		{"sweep", []string{"-sweep", "5,abc"}, "-sweep"},
		{"sweep range", []string{"-sweep", "150"}, "-sweep"},
		{"latency", []string{"-latency-read-p50", "20ms"}, "below its p50"},
		{"price", []string{"-price-rru", "-1"}, "price"},
		{"create table without DynamoDB", []string{"-create-table"}, "need -dynamodb-endpoint"},
		{"malformed duration", []string{"-duration", "five"}, "invalid value"},
		{"negative warm-up", []string{"-warmup", "-1s"}, "-warmup -1s: must not be negative"},
		{"negative latency", []string{"-latency-write-p50", "-5ms"}, "-latency-write-p50 -5ms: must not be negative"},
		{"too much concurrency", []string{"-concurrency", "20000"}, "-concurrency 20000: at most 1024"},
		{"redis address", []string{"-redis", "localhost"}, "want auto, none or host:port"},
		{"DynamoDB Local and an endpoint", []string{"-dynamodb-local", "-dynamodb-endpoint", "http://127.0.0.1:8000"}, "-dynamodb-local starts a DynamoDB Local of its own"},
		{"seal with a sweep", []string{"-seal", "-sweep", "10"}, "-seal measures the remote-only system only: -sweep"},
		{"seal with nodes", []string{"-seal", "-nodes", "3"}, "-nodes does not apply"},
		{"seal with redis", []string{"-seal", "-redis", "none"}, "-redis does not apply"},
		{"seal with a local tier", []string{"-seal", "-local-fraction", "0.5"}, "-local-fraction does not apply"},
		{"seal payload too small", []string{"-seal", "-payload", "20"}, "-payload 20: -seal's JSON sessions need at least"},
		{"seal-encrypt without seal", []string{"-seal-encrypt"}, "-seal-encrypt needs -seal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Cancelled, so that a bad value that slipped through ends
			// the run at once (with exit code 1) instead of benchmarking.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := run(ctx, tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
		})
	}
}

func TestFlagsMapOntoConfig(t *testing.T) {
	o, err := parseFlags([]string{"-workload", "YCSB-A", "-warmup", "0", "-sweep", "none", "-dynamodb-endpoint", "http://127.0.0.1:1",
		"-latency-read-p50", "0", "-latency-read-p99", "0", "-latency-write-p50", "0", "-latency-write-p99", "0"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Workload != "YCSB-A" || c.Warmup >= 0 || !c.SkipSweep || !c.NoLatency || o.dynamo.table != "tierbench" {
		t.Errorf("config %+v, dynamo %+v", c, o.dynamo)
	}
	o, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	d := bench.DefaultConfig()
	if o.cfg.Sessions != d.Sessions || o.cfg.Warmup != d.Warmup || !slices.Equal(o.cfg.SweepFractions, d.SweepFractions) || o.cfg.SweepFractions[2] != 0.1 || o.dynamo.enabled() {
		t.Errorf("defaults not kept: %+v", o.cfg)
	}
}

func TestRunWritesTableReportAndChart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"-sessions", "200", "-payload", "32", "-concurrency", "2", "-duration", "30s", "-max-ops", "400",
		"-warmup", "0", "-sweep", "10,50", "-sweep-duration", "30s", "-no-latency", "-nodes", "2", "-redis", "none", "-out", out}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\nstderr: %s", code, stderr.String())
	}
	for _, want := range []string{"remote-only", "tiered-1", "tiered-2", "what each system saves against remote-only",
		"hit ratio vs local capacity", "redis: left out (-redis none)", "report.json"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	// Not a terminal: one plain line per phase, no carriage returns. The
	// preload, three systems, one sweep point (10% is tiered-1's).
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 5 || strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress on a non-terminal: %q, want 5 plain lines", stderr.String())
	}
	var rep bench.Report
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Systems) != 3 || len(rep.Sweep) != 2 {
		t.Errorf("report.json: %v, %d systems, %d sweep points", err, len(rep.Systems), len(rep.Sweep))
	}
	for _, name := range []string{"chart.svg", "table.txt"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// cancelOn is a progress writer that cancels a run once it has written
// the given text.
type cancelOn struct {
	bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.text) {
		w.cancel()
	}
	return n, err
}

func TestInterruptWritesTheFinishedPhases(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	// Interrupted once remote-only has finished, while tiered-1 runs
	// (for 30 s, were it not interrupted).
	stderr := &cancelOn{text: "[2/", cancel: cancel}
	args := []string{"-sessions", "200", "-payload", "32", "-concurrency", "2", "-duration", "30s", "-max-ops", "300",
		"-warmup", "0", "-sweep", "none", "-no-latency", "-redis", "none", "-out", out}
	code := run(ctx, args, &stdout, stderr)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want %d\nstderr: %s", code, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stdout.String(), "INCOMPLETE RUN: stopped during tiered-1") || !strings.Contains(stdout.String(), "wrote the finished phases") {
		t.Errorf("stdout of an interrupted run:\n%s", stdout.String())
	}
	var rep bench.Report
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil || rep.Complete || len(rep.Systems) != 1 || rep.Systems[0].Name != "remote-only" {
		t.Errorf("report.json of an interrupted run: %v, complete %v, %d systems", err, rep.Complete, len(rep.Systems))
	}
	for _, name := range []string{"chart.svg", "table.txt"} {
		if data, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Contains(data, []byte("INCOMPLETE")) {
			t.Errorf("%s of an interrupted run is missing or not marked incomplete (%v)", name, err)
		}
	}
}

func TestRedisAuto(t *testing.T) {
	args := []string{"-sessions", "100", "-payload", "32", "-concurrency", "2", "-duration", "30s", "-max-ops", "200",
		"-warmup", "0", "-sweep", "none", "-no-latency", "-nodes", "2", "-out", filepath.Join(t.TempDir(), "out")}
	t.Run("not on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit code %d\nstderr: %s", code, stderr.String())
		}
		if want := "redis: left out: redis-server is not on PATH"; !strings.Contains(stdout.String(), want) || !strings.Contains(stderr.String(), want) {
			t.Errorf("output does not say why Redis was left out:\n%s\n%s", stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String(), "  redis  ") {
			t.Errorf("a redis system without a Redis:\n%s", stdout.String())
		}
	})
	t.Run("on PATH", func(t *testing.T) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("redis-server not on PATH (install it with: %s)", bench.RedisInstallHint)
			}
			t.Skipf("redis-server not on PATH (install it with: %s)", bench.RedisInstallHint)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit code %d\nstderr: %s", code, stderr.String())
		}
		for _, want := range []string{"started for this run on 127.0.0.1:", "Redis invalidation bus", "every session in Redis"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
			}
		}
	})
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done float64
		want string
	}{
		{0, "[" + strings.Repeat("·", barWidth) + "]"},
		{0.5, "[" + strings.Repeat("█", barWidth/2) + strings.Repeat("·", barWidth/2) + "]"},
		{1, "[" + strings.Repeat("█", barWidth) + "]"},
		{2, "[" + strings.Repeat("█", barWidth) + "]"},
	}
	for _, tc := range tests {
		if got := bar(tc.done); got != tc.want {
			t.Errorf("bar(%v) = %q, want %q", tc.done, got, tc.want)
		}
	}
	var b bytes.Buffer
	v := &progressView{w: &b, terminal: true, started: time.Now()}
	v.update(bench.Progress{Step: 2, Steps: 5, Phase: "tiered-1", Done: 0.5, Ops: 12345})
	v.update(bench.Progress{Step: 2, Steps: 5, Phase: "tiered-1", Done: 1, Finished: true, Summary: "fast"})
	got := b.String()
	if !strings.Contains(got, "\r\x1b[K[2/5] tiered-1") || !strings.Contains(got, " 50%  12.3k ops") || !strings.HasSuffix(got, "fast (0.0s)\n") {
		t.Errorf("terminal progress %q", got)
	}
}

func TestCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := credentials(false); err == nil {
		t.Error("no credentials and no emulator: want an error")
	}
	p, err := credentials(true)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Retrieve(context.Background()); c.AccessKeyID == "" {
		t.Error("emulator credentials are empty")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	p, _ = credentials(false)
	if c, _ := p.Retrieve(context.Background()); c.AccessKeyID != "AKID" || c.SecretAccessKey != "secret" {
		t.Errorf("credentials from the environment: %+v", c)
	}
	if _, _, err := (dynamoFlags{endpoint: "localhost:8000", table: "t"}).open(context.Background()); err == nil {
		t.Error("an endpoint without a scheme was accepted")
	}
}
