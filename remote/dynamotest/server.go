package dynamotest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file starts and stops the emulator processes shared by one test
// binary: dynalite (this file) and DynamoDB Local (local.go).

const (
	// startTimeout bounds how long a started emulator may take to answer
	// HTTP (node starts in well under a second, a JVM in a few).
	startTimeout = 60 * time.Second
	// portAttempts is how many free ports are tried: the port is picked by
	// binding :0 and closing, so another process may take it in between.
	portAttempts = 3
	// outputTail is how much of an emulator's output is kept for error
	// messages.
	outputTail = 8 << 10
)

// installHint says how to get the pinned dynalite; it ends every message
// about a missing dynalite.
const installHint = "install the pinned dynalite with `npm ci --prefix tools/dynalite` " +
	"(what `make test` runs), or set DYNAMODB_ENDPOINT to a running DynamoDB-compatible server"

// errMissing marks a failure to find an emulator or its runtime: tests
// skip on it, except under CI where they fail.
var errMissing = errors.New("dynamotest: DynamoDB emulator not available")

// sharedServer is one process-wide emulator, started on first use. mu
// guards every field but name and start.
type sharedServer struct {
	name     string                  // for messages
	start    func() (*server, error) // starts the emulator
	mu       sync.Mutex
	started  bool // start was attempted
	stopped  bool // Stop ran
	endpoint string
	err      error
	srv      *server
}

var (
	// shared is the dynalite of Endpoint, whose tables are ready at once.
	shared = &sharedServer{name: "dynalite", start: func() (*server, error) { return startDynalite(0) }}
	// sharedAsync is the dynalite of AsyncTablesEndpoint.
	sharedAsync = &sharedServer{name: "dynalite", start: func() (*server, error) { return startDynalite(TableDelay) }}
	// sharedLocal is the DynamoDB Local of LocalEndpoint.
	sharedLocal = &sharedServer{name: "DynamoDB Local", start: startLocal}
)

// endpointOrErr starts the server on first use and returns its endpoint.
// Concurrent first callers wait for the one start.
func (s *sharedServer) endpointOrErr() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return "", fmt.Errorf("dynamotest: the shared %s was stopped (Stop or Run already ran)", s.name)
	}
	if !s.started {
		s.started = true
		s.srv, s.err = s.start()
		if s.err == nil {
			s.endpoint = s.srv.endpoint
		}
	}
	return s.endpoint, s.err
}

// endpointFor is endpointOrErr for a test: it skips or fails tb when the
// server cannot be had (see unavailable).
func (s *sharedServer) endpointFor(tb testing.TB) string {
	tb.Helper()
	ep, err := s.endpointOrErr()
	if err != nil {
		unavailable(tb, err)
	}
	return ep
}

// stop stops the server, if one was started, and waits for it to exit.
func (s *sharedServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.srv != nil {
		s.srv.stop()
		s.srv = nil
	}
}

// Stop stops the shared emulators, if this process started any, and waits
// for them to exit. Endpoint, AsyncTablesEndpoint and LocalEndpoint fail
// after Stop. Safe to call more than once; Run calls it.
func Stop() {
	shared.stop()
	sharedAsync.stop()
	sharedLocal.stop()
}

// server is one running emulator process.
type server struct {
	name     string // for messages
	endpoint string
	pid      int
	done     chan struct{} // closed once the process has exited
	waitErr  error         // set before done is closed
	out      *tail
}

// startDynalite locates the pinned dynalite and starts it on a free
// loopback port. Its tables stay CREATING after CreateTable and DELETING
// after DeleteTable for tableDelay.
func startDynalite(tableDelay time.Duration) (*server, error) {
	bin, err := dynaliteBin()
	if err != nil {
		return nil, err
	}
	ms := strconv.FormatInt(tableDelay.Milliseconds(), 10)
	return startOnFreePort(func(port int) (*server, error) {
		return launch("dynalite", exec.Command(bin,
			"--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--createTableMs", ms, "--deleteTableMs", ms, "--updateTableMs", ms), port)
	})
}

// dynaliteBin returns the path of the pinned dynalite's executable, or an
// errMissing error saying how to install what is missing.
func dynaliteBin() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w: node is not in PATH; install Node.js, then %s", errMissing, installHint)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "tools", "dynalite", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w: %s not found; %s", errMissing, bin, installHint)
	}
	return bin, nil
}

// startOnFreePort calls launch with free loopback ports until one start
// succeeds, at most portAttempts times.
func startOnFreePort(launch func(port int) (*server, error)) (*server, error) {
	var lastErr error
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(port)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// launch starts cmd, an emulator named name that serves HTTP on loopback
// port, and waits until it answers. The process runs in its own process
// group, which stop kills.
func launch(name string, cmd *exec.Cmd, port int) (*server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &server{name: name, endpoint: "http://" + addr, done: make(chan struct{}), out: &tail{max: outputTail}}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = sysProcAttr()
	started := make(chan error, 1)
	go func() {
		// Linux delivers Pdeathsig when the thread that started the child
		// exits, not the process. Lock this goroutine to its thread and
		// keep it blocked in Wait for the child's whole life, so the
		// signal comes only when the test binary dies.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		s.pid = cmd.Process.Pid
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("dynamotest: starting %s: %w", cmd.Path, err)
	}
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls until the server answers an HTTP request (any status:
// an emulator answers GET / with an error), the process exits, or
// startTimeout passes. A JVM listens a moment before it serves, so an
// accepted connection alone is not enough.
func (s *server) waitReady() error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(s.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dynamotest: %s did not answer on %s within %v (%v); output:\n%s",
				s.name, s.endpoint, startTimeout, err, s.out)
		}
		select {
		case <-s.done:
			return fmt.Errorf("dynamotest: %s exited before answering (%v); output:\n%s",
				s.name, s.waitErr, s.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop kills the process (and its process group) and waits for it.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	killTree(s.pid)
	<-s.done
}

// freePort returns a loopback TCP port that was free a moment ago.
// dynalite treats --port 0 as its default 4567 and DynamoDB Local does not
// say which port it took, so the port must be picked here.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynamotest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// moduleRoot walks up from the working directory (a test runs in its
// package's folder) to the folder holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dynamotest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("dynamotest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// tail keeps the last max bytes written to it. It is safe for concurrent
// use (exec copies stdout and stderr from separate goroutines).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write implements io.Writer; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept output.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
