// Command demo is a small web app on package httpsession: log in with a
// name (the session is renewed on login), count with a button, fire
// parallel requests that each set their own session key and see that all
// of them landed, log out, and read the metrics at /metrics.
//
//	go run ./cmd/demo                  # http://127.0.0.1:8080, in-memory store
//	go run ./cmd/demo -addr :8080      # all interfaces: expects TLS in front (see -dev)
//	go run ./cmd/demo -table sessions -endpoint http://127.0.0.1:8000 -create-table
//	TIERSESSION_BUS_SECRET=$(openssl rand -base64 32) go run ./cmd/demo -redis 127.0.0.1:6379
//
// # Store
//
// With no table the sessions live in the in-memory remote of this process
// (tiersession.Open with a zero Config) and are lost when it exits. With
// -table (or TIERSESSION_TABLE) they live in that DynamoDB table, reached
// through the standard AWS configuration (AWS_REGION, credentials, and
// AWS_ENDPOINT_URL_DYNAMODB for dynalite or DynamoDB Local, or -endpoint).
// -create-table creates the table when it is missing.
//
// With -redis host:port (or TIERSESSION_REDIS) the nodes invalidate each
// other's local copies over Redis pub/sub, so several demo processes on
// one table behind a load balancer serve one user coherently. The bus
// messages are authenticated with the secret in TIERSESSION_BUS_SECRET
// (at least 32 bytes, the same on every node; required with -redis).
// Flags win over the environment.
//
// # Cookies: -dev
//
// The demo serves plain http. With -dev the session cookie is "session",
// without Secure, so that a browser sends it over http: for a laptop only.
// Without -dev it is the production cookie, "__Host-session", Secure, which
// browsers send only over https: run the demo behind a TLS-terminating
// proxy then. -dev is on by default when -addr is a loopback address
// (127.0.0.0/8, ::1, localhost) and off otherwise; a non-loopback address
// with an explicit -dev is served, with a warning that the token travels
// in clear.
//
// # Endpoints
//
//	GET  /                    the page
//	POST /login               name=...: Renew, then remember the name
//	POST /count               increment the session's counter
//	POST /parallel            run=...&i=N: set session key parallel.N to run
//	GET  /parallel            run=...&n=N: how many of parallel.0..N-1 hold run
//	POST /logout              Destroy
//	POST /logout-everywhere   501 until httpsession has owner-based DestroyAll
//	GET  /metrics             Prometheus: the store's, the Manager's, Go's
//
// Unsafe requests from another origin are refused (http.CrossOriginProtection;
// the cookie is SameSite=Lax as well). /metrics is served on the same
// listener for the demo's sake; a real deployment keeps it off the public
// port.
//
// SIGINT or SIGTERM stops the server gracefully: it stops accepting, lets
// the requests in flight finish (up to 10 seconds), then closes the store,
// which flushes the bus.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tiersession/tiersession/invalidation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal a second one kills at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Environment variables the flags default to.
const (
	envTable     = "TIERSESSION_TABLE"
	envRedis     = "TIERSESSION_REDIS"
	envBusSecret = "TIERSESSION_BUS_SECRET"
	envOwnerKey  = "TIERSESSION_OWNER_KEY"
)

// busKeyID names the bus key on the wire. Every node of a demo deployment
// signs with the one secret, so one fixed id will do.
const busKeyID = "demo"

// shutdownTimeout is how long a graceful shutdown waits for the requests
// in flight.
const shutdownTimeout = 10 * time.Second

// config is the parsed command line.
type config struct {
	addr        string
	dev         bool
	table       string
	endpoint    string
	createTable bool
	redis       string
	busSecret   string // from the environment only: flags show in ps
	ownerKey    string // from the environment; "": random for this process
}

// parseFlags parses args, with getenv for the defaults the environment
// gives. Errors are usage errors; flag.ErrHelp for -help.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{busSecret: getenv(envBusSecret), ownerKey: getenv(envOwnerKey)}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: demo [flags]

A demo web app on tiersession's httpsession: login (renewed), a counter,
parallel requests that each set their own key, logout, and /metrics.
Without -table the sessions live in this process's memory.

Environment:
  TIERSESSION_TABLE       default for -table
  TIERSESSION_REDIS       default for -redis
  TIERSESSION_BUS_SECRET  HMAC secret of the Redis bus, at least 32 bytes,
                          the same on every node (required with -redis)
  TIERSESSION_OWNER_KEY   HMAC key under which user names are indexed, at
                          least 16 bytes, the same on every node (default:
                          random per process, fine for one node)
  AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, credentials: the standard AWS
                          configuration, used with -table

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port)")
	fs.BoolVar(&c.dev, "dev", false, "development cookie for plain http: \"session\", not Secure\n(default: on when -addr is a loopback address; off means a TLS\nproxy is in front and the cookie is __Host-session, Secure)")
	fs.StringVar(&c.table, "table", getenv(envTable), "DynamoDB `table` of the sessions (default $"+envTable+"; empty: in-memory)")
	fs.StringVar(&c.endpoint, "endpoint", "", "DynamoDB endpoint `URL`, e.g. http://127.0.0.1:8000 for dynalite\n(default: the AWS configuration, which honours AWS_ENDPOINT_URL_DYNAMODB)")
	fs.BoolVar(&c.createTable, "create-table", false, "create the table if it does not exist")
	fs.StringVar(&c.redis, "redis", getenv(envRedis), "Redis `host:port` for the invalidation bus (default $"+envRedis+"; empty: no bus)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	devSet := false
	fs.Visit(func(f *flag.Flag) { devSet = devSet || f.Name == "dev" })
	if !devSet {
		c.dev = isLoopback(c.addr)
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("-addr %q: %v", c.addr, err)
	}
	if c.table == "" && (c.endpoint != "" || c.createTable) {
		return c, errors.New("-endpoint and -create-table need -table (or " + envTable + ")")
	}
	if c.ownerKey != "" && len(c.ownerKey) < 16 {
		return c, fmt.Errorf("%s must have at least 16 bytes; it has %d", envOwnerKey, len(c.ownerKey))
	}
	if c.redis != "" && len(c.busSecret) < invalidation.MinSecretLen {
		return c, fmt.Errorf("-redis needs %s of at least %d bytes (e.g. openssl rand -base64 32); it has %d",
			envBusSecret, invalidation.MinSecretLen, len(c.busSecret))
	}
	return c, nil
}

// isLoopback reports whether the host of addr (host:port) is a loopback
// address or localhost. An empty host means every interface: not loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// run is the command: parse, open the store, serve until ctx ends, close
// the store.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	c, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		logger.Error("listen", "err", err)
		return exitFailed
	}
	d, err := open(ctx, c, logger)
	if err != nil {
		ln.Close()
		logger.Error("opening the store", "err", err)
		return exitFailed
	}
	cookie := "__Host-session, Secure: put a TLS proxy in front"
	if c.dev {
		cookie = "dev (session, not Secure)"
		if !isLoopback(c.addr) {
			logger.Warn("-dev on a non-loopback address: session tokens travel in clear text")
		}
	}
	logger.Info("serving", "url", "http://"+ln.Addr().String(), "store", d.storeDesc, "cookie", cookie)
	code := exitOK
	// The store closes after the server has finished the requests in
	// flight: they may still save.
	if err := serve(ctx, ln, d, logger); err != nil {
		logger.Error("serve", "err", err)
		code = exitFailed
	}
	if err := d.Close(); err != nil {
		logger.Error("closing the store", "err", err)
		code = exitFailed
	}
	return code
}

// serve serves h on ln until ctx ends, then shuts down gracefully: it
// stops accepting and waits up to shutdownTimeout for the requests in
// flight. It closes ln.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
