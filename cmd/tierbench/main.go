// Command tierbench measures tiersession against the stores a user would
// pick instead, on the same workload, and prints a table; it also writes a
// JSON report and an SVG chart. With no flags it runs in under 40 seconds
// on an in-memory remote with a latency model of in-region DynamoDB, and
// adds Redis as a session store (and as the invalidation bus of the
// multi-node tiered system) by starting a throwaway redis-server when one
// is on PATH. With -dynamodb-endpoint (or -dynamodb-table) it measures a
// real DynamoDB, dynalite or DynamoDB Local; -dynamodb-local starts the
// pinned DynamoDB Local (tools/dynamodb-local) for the run and stops it at
// the end; -redis host:port uses a Redis of yours, -redis none leaves
// Redis out. -seal runs the sealing comparison instead: the remote-only
// system on ~3 KB JSON sessions, stored uncompressed and sealed with zstd
// (and with -seal-encrypt, both encrypted), billed by the sealed size.
//
// An interrupt (Ctrl-C) stops the run, writes what the finished phases
// measured, marked incomplete, and exits with status 130.
//
//	go run ./cmd/tierbench
//	go run ./cmd/tierbench -dynamodb-endpoint http://127.0.0.1:8000 -create-table -workload b
//	go run ./cmd/tierbench -redis 127.0.0.1:6379 -workload web
//	go run ./cmd/tierbench -dynamodb-local -workload a
//	go run ./cmd/tierbench -seal -workload web
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tiersession/tiersession/bench"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first interrupt, a second one kills at once: the default
	// action comes back.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

// Values of -redis that are not addresses.
const (
	redisAuto = "auto"
	redisNone = "none"
)

// sealSessions is the default -sessions of -seal: the comparison measures
// the remote only, whose cost per request does not depend on how many
// sessions there are, and each session is stored twice.
const sealSessions = 10_000

// options are the parsed command line.
type options struct {
	cfg    bench.Config
	sweep  string
	out    string
	redis  string
	dynamo dynamoFlags
}

// parseFlags parses args into options; errors are usage errors.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	d := bench.DefaultConfig()
	o := &options{cfg: d}
	c := &o.cfg
	fs := flag.NewFlagSet("tierbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: tierbench [flags]\n\nMeasures tiersession against remote-only and Redis session stores; see the Performance section of README.md.\n\n")
		fs.PrintDefaults()
	}

	fs.StringVar(&c.Workload, "workload", d.Workload, "operation mix: a (50% read/50% update), b (95/5), c (read only), f (50% read/50% read-modify-write), web (read every request, 10% write, 5% renew)")
	fs.StringVar(&c.Dist, "dist", d.Dist, "key distribution: zipf (scrambled zipfian) or uniform")
	fs.Float64Var(&c.Zipf, "zipf", d.Zipf, "zipfian constant, in (0, 1)")
	fs.IntVar(&c.Sessions, "sessions", d.Sessions, "number of sessions")
	fs.IntVar(&c.Payload, "payload", d.Payload, "session payload size in bytes")
	fs.IntVar(&c.Concurrency, "concurrency", d.Concurrency, fmt.Sprintf("concurrent clients (requests in flight), at most %d", bench.MaxConcurrency))
	fs.DurationVar(&c.Duration, "duration", d.Duration, "measured time per system")
	fs.DurationVar(&c.Warmup, "warmup", d.Warmup, "least unmeasured warm-up per system (0 for none; tiered systems warm until their local tiers are full, at most one -local-ttl)")
	fs.Int64Var(&c.MaxOps, "max-ops", 0, "cap on measured operations per system and sweep point (0: no cap)")
	fs.Float64Var(&c.LocalFraction, "local-fraction", d.LocalFraction, "local tier capacity per node, as a fraction of sessions, in (0, 1]")
	fs.DurationVar(&c.LocalTTL, "local-ttl", d.LocalTTL, "how long a node serves a session locally before re-reading the remote")
	fs.IntVar(&c.Nodes, "nodes", d.Nodes, "nodes of the multi-node tiered system (1: leave it out)")
	fs.StringVar(&o.sweep, "sweep", "1,5,10,25", "local capacities of the hit-ratio sweep, in percent of sessions, comma-separated; \"none\" to skip")
	fs.DurationVar(&c.SweepDuration, "sweep-duration", d.SweepDuration, "measured time per sweep point")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "random seed (equal seeds draw equal request sequences)")
	fs.StringVar(&o.out, "out", "tierbench-out", "directory for report.json, chart.svg and table.txt")

	fs.DurationVar(&c.Latency.ReadP50, "latency-read-p50", d.Latency.ReadP50, "in-memory remote: median read latency (lognormal model of in-region DynamoDB GetItem)")
	fs.DurationVar(&c.Latency.ReadP99, "latency-read-p99", d.Latency.ReadP99, "in-memory remote: 99th percentile read latency")
	fs.DurationVar(&c.Latency.WriteP50, "latency-write-p50", d.Latency.WriteP50, "in-memory remote: median write latency (conditional PutItem/UpdateItem)")
	fs.DurationVar(&c.Latency.WriteP99, "latency-write-p99", d.Latency.WriteP99, "in-memory remote: 99th percentile write latency")
	fs.BoolVar(&c.NoLatency, "no-latency", false, "in-memory remote without added latency")

	fs.Float64Var(&c.Prices.ReadPerMillion, "price-rru", d.Prices.ReadPerMillion, "USD per million DynamoDB read request units (default: on-demand, us-east-1, as of Nov 2024)")
	fs.Float64Var(&c.Prices.WritePerMillion, "price-wru", d.Prices.WritePerMillion, "USD per million DynamoDB write request units (default: on-demand, us-east-1, as of Nov 2024)")

	fs.StringVar(&o.dynamo.endpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL (dynalite, DynamoDB Local); implies the DynamoDB remote")
	fs.StringVar(&o.dynamo.region, "dynamodb-region", defaultRegion(), "DynamoDB region")
	fs.StringVar(&o.dynamo.table, "dynamodb-table", "", "DynamoDB table; implies the DynamoDB remote (default \"tierbench\" with -dynamodb-endpoint)")
	fs.BoolVar(&o.dynamo.createTable, "create-table", false, "create the DynamoDB table if missing")
	fs.BoolVar(&o.dynamo.consistentRead, "consistent-read", false, "strongly consistent DynamoDB reads (twice the read units)")
	fs.IntVar(&c.PreloadConcurrency, "preload-concurrency", d.PreloadConcurrency, "concurrent Creates while filling the remote")
	fs.BoolVar(&o.dynamo.local, "dynamodb-local", false, "start AWS's DynamoDB Local (tools/dynamodb-local, installed by make deps; needs Java 17; run from the module) on a free loopback port for this run, create the table in it, and stop it at exit; implies the DynamoDB remote")
	fs.BoolVar(&c.Seal, "seal", false, fmt.Sprintf("sealing comparison instead of the usual systems: remote-only on JSON sessions (default -payload %d, -sessions %d) stored uncompressed vs sealed with zstd (remote/seal), each request billed by the size of the item as stored; no tiered systems, Redis or sweep", bench.SealPayload, sealSessions))
	fs.BoolVar(&c.SealEncrypt, "seal-encrypt", false, "with -seal: encrypt both systems' items with AES-256-GCM (a key made for the run), so that only compression differs")
	fs.StringVar(&o.redis, "redis", redisAuto, "Redis as a session store and as the multi-node invalidation bus: \"auto\" starts a throwaway redis-server on a free loopback port if one is on PATH, host:port uses yours, \"none\" leaves Redis out")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (all settings are flags)", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := sealFlags(c, o, set); err != nil {
		return nil, err
	}
	// In bench.Config a zero means "default"; on the command line it is
	// a mistake, so these are checked here.
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"-sessions", c.Sessions > 0}, {"-payload", c.Payload > 0}, {"-concurrency", c.Concurrency > 0},
		{"-nodes", c.Nodes > 0}, {"-preload-concurrency", c.PreloadConcurrency > 0},
		{"-zipf", c.Zipf > 0}, {"-local-fraction", c.LocalFraction > 0},
		{"-duration", c.Duration > 0}, {"-sweep-duration", c.SweepDuration > 0}, {"-local-ttl", c.LocalTTL > 0},
	} {
		if !f.ok {
			return nil, fmt.Errorf("%s %s: must be positive", f.name, fs.Lookup(strings.TrimPrefix(f.name, "-")).Value)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"-warmup", c.Warmup}, {"-latency-read-p50", c.Latency.ReadP50}, {"-latency-read-p99", c.Latency.ReadP99},
		{"-latency-write-p50", c.Latency.WriteP50}, {"-latency-write-p99", c.Latency.WriteP99},
	} {
		if f.v < 0 {
			return nil, fmt.Errorf("%s %v: must not be negative", f.name, f.v)
		}
	}
	if c.Concurrency > bench.MaxConcurrency {
		return nil, fmt.Errorf("-concurrency %d: at most %d (each client keeps its own latency histogram of about 250 KB: "+
			"%d clients would take %.1f GB before measuring anything, and a closed loop that wide measures the harness, not the stores)",
			c.Concurrency, bench.MaxConcurrency, c.Concurrency, float64(c.Concurrency)*250e3/1e9)
	}
	switch o.redis {
	case redisAuto, redisNone:
	default:
		if _, port, err := net.SplitHostPort(o.redis); err != nil || port == "" {
			return nil, fmt.Errorf("-redis %q: want auto, none or host:port", o.redis)
		}
		c.Redis = o.redis
		c.RedisNote = "your server at " + o.redis + " (-redis)"
	}
	if c.Warmup == 0 {
		c.Warmup = -1 // bench.Config: negative means none
	}
	if c.NoLatency || c.Latency == (bench.LatencyModel{}) {
		c.NoLatency, c.Latency = true, bench.LatencyModel{}
	}
	fr, skip, err := parseSweep(o.sweep)
	if err != nil {
		return nil, err
	}
	c.SweepFractions, c.SkipSweep = fr, skip
	c.ConsistentRead = o.dynamo.consistentRead
	if o.dynamo.local && o.dynamo.endpoint != "" {
		return nil, errors.New("-dynamodb-local starts a DynamoDB Local of its own: drop -dynamodb-endpoint (or drop -dynamodb-local to use the server at that endpoint)")
	}
	if (o.dynamo.endpoint != "" || o.dynamo.local) && o.dynamo.table == "" {
		o.dynamo.table = "tierbench"
	}
	if !o.dynamo.enabled() && (o.dynamo.createTable || o.dynamo.consistentRead) {
		return nil, errors.New("-create-table and -consistent-read need -dynamodb-endpoint or -dynamodb-table")
	}
	if err := c.Validate(); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "bench: "))
	}
	return o, nil
}

// sealFlags checks the flags of -seal, which measures remote-only systems
// only, and gives it its own defaults for the flags not set.
func sealFlags(c *bench.Config, o *options, set map[string]bool) error {
	if !c.Seal {
		if c.SealEncrypt {
			return errors.New("-seal-encrypt needs -seal")
		}
		return nil
	}
	for _, name := range []string{"sweep", "sweep-duration", "nodes", "local-fraction", "local-ttl", "redis"} {
		if set[name] {
			return fmt.Errorf("-seal measures the remote-only system only: -%s does not apply", name)
		}
	}
	if !set["payload"] {
		c.Payload = bench.SealPayload
	}
	if !set["sessions"] {
		c.Sessions = sealSessions
	}
	if c.Payload < bench.MinJSONPayload {
		return fmt.Errorf("-payload %d: -seal's JSON sessions need at least %d bytes", c.Payload, bench.MinJSONPayload)
	}
	o.sweep, o.redis = "none", redisNone
	return nil
}

// parseSweep parses the -sweep list of percentages.
func parseSweep(s string) (fractions []float64, skip bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, true, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f), "%"), 64)
		if err != nil || !(v > 0 && v <= 100) {
			return nil, false, fmt.Errorf("-sweep %q: %q is not a percentage in (0, 100]", s, f)
		}
		fractions = append(fractions, v/100)
	}
	return fractions, false, nil
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tierbench: %v\n", err)
		return exitUsage
	}
	if o.dynamo.local {
		fmt.Fprintf(stderr, "dynamodb-local: starting DynamoDB Local (tools/dynamodb-local)...\n")
		ep, stopLocal, err := dynamotest.StartLocal(ctx)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "tierbench: interrupted\n")
				return exitInterrupted
			}
			fmt.Fprintf(stderr, "tierbench: -dynamodb-local: %v\n", err)
			return exitFailed
		}
		// Deferred, so it runs on every return, an interrupt's too; on
		// Linux the kernel kills the server should tierbench die first.
		defer stopLocal()
		o.dynamo.endpoint, o.dynamo.createTable = ep, true
		fmt.Fprintf(stderr, "dynamodb-local: DynamoDB Local started for this run on %s; stopped at exit\n", ep)
	}
	if o.dynamo.enabled() {
		d, name, err := o.dynamo.open(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tierbench: %v\n", err)
			return exitFailed
		}
		if o.dynamo.local {
			name = "DynamoDB Local (started for this run) at " + o.dynamo.endpoint + " table " + o.dynamo.table
		}
		o.cfg.Remote, o.cfg.RemoteName = d, name
	}
	switch o.redis {
	case redisNone:
		o.cfg.RedisNote = "left out (-redis none)"
		if o.cfg.Seal {
			o.cfg.RedisNote = ""
		}
	case redisAuto:
		srv, note := startRedis(ctx)
		if srv != nil {
			defer srv.Close()
			o.cfg.Redis = srv.Addr()
		}
		o.cfg.RedisNote = note
		fmt.Fprintf(stderr, "redis: %s\n", note)
	}
	view := &progressView{w: stderr, started: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		view = newProgressView(f)
	}
	o.cfg.Progress = view.update

	rep, err := bench.Run(ctx, o.cfg)
	if err != nil {
		view.interrupted()
		code := exitFailed
		if ctx.Err() != nil {
			code = exitInterrupted
			fmt.Fprintf(stderr, "tierbench: interrupted\n")
		} else {
			fmt.Fprintf(stderr, "tierbench: %v\n", err)
		}
		if rep == nil || len(rep.Systems)+len(rep.Sweep) == 0 {
			fmt.Fprintf(stderr, "tierbench: no phase finished; nothing written\n")
			return code
		}
		fmt.Fprintln(stdout)
		_ = rep.WriteTable(stdout)
		paths, werr := writeOutputs(o.out, rep)
		if werr != nil {
			fmt.Fprintf(stderr, "tierbench: %v\n", werr)
			return code
		}
		fmt.Fprintf(stdout, "\nincomplete run (stopped during %s): wrote the finished phases to %s\n", rep.StoppedDuring, strings.Join(paths, ", "))
		return code
	}
	fmt.Fprintln(stdout)
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "tierbench: %v\n", err)
		return exitFailed
	}
	paths, err := writeOutputs(o.out, rep)
	if err != nil {
		fmt.Fprintf(stderr, "tierbench: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(paths, ", "))
	return exitOK
}

// startRedis starts a throwaway redis-server for -redis auto. It returns
// the server, or nil, and a note for the report saying which, and why.
func startRedis(ctx context.Context) (*bench.RedisServer, string) {
	srv, err := bench.StartRedisServer(ctx)
	switch {
	case errors.Is(err, bench.ErrNoRedisServer):
		return nil, fmt.Sprintf("left out: redis-server is not on PATH (install it with: %s; or point -redis at a server)", bench.RedisInstallHint)
	case err != nil:
		return nil, fmt.Sprintf("left out: %v", err)
	}
	version := ""
	if v := srv.Version(); v != "" {
		version = " " + v
	}
	return srv, fmt.Sprintf("redis-server%s started for this run on %s", version, srv.Addr())
}

// writeOutputs writes the report, chart and table into dir.
func writeOutputs(dir string, rep *bench.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	outputs := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"report.json", rep.WriteJSON},
		{"chart.svg", rep.WriteSVG},
		{"table.txt", rep.WriteTable},
	}
	var paths []string
	for _, o := range outputs {
		p := filepath.Join(dir, o.name)
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		err = o.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
