package dynamotest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file starts and stops the dynalite processes shared by one test
// binary.

const (
	// startTimeout bounds how long a started dynalite may take to accept
	// connections (node starts in well under a second).
	startTimeout = 20 * time.Second
	// portAttempts is how many free ports are tried: the port is picked by
	// binding :0 and closing, so another process may take it in between.
	portAttempts = 3
	// outputTail is how much of dynalite's output is kept for error
	// messages.
	outputTail = 8 << 10
)

// installHint says how to get the pinned dynalite; it ends every message
// about a missing emulator.
const installHint = "install the pinned dynalite with `npm ci --prefix tools/dynalite` " +
	"(what `make test` runs), or set DYNAMODB_ENDPOINT to a running DynamoDB-compatible server"

// errMissing marks a failure to find node or dynalite: tests skip on it,
// except under CI where they fail.
var errMissing = errors.New("dynamotest: DynamoDB emulator not available")

// sharedServer is one process-wide dynalite, started on first use. mu
// guards every field but tableDelay.
type sharedServer struct {
	tableDelay time.Duration // how long tables stay CREATING and DELETING
	mu         sync.Mutex
	started    bool // start was attempted
	stopped    bool // Stop ran
	endpoint   string
	err        error
	srv        *server
}

var (
	// shared is the server of Endpoint, whose tables are ready at once.
	shared = &sharedServer{}
	// sharedAsync is the server of AsyncTablesEndpoint.
	sharedAsync = &sharedServer{tableDelay: TableDelay}
)

// endpointOrErr starts the server on first use and returns its endpoint.
func (s *sharedServer) endpointOrErr() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return "", errors.New("dynamotest: the shared dynalite was stopped (Stop or Run already ran)")
	}
	if !s.started {
		s.started = true
		s.srv, s.err = startDynalite(s.tableDelay)
		if s.err == nil {
			s.endpoint = s.srv.endpoint
		}
	}
	return s.endpoint, s.err
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

// Stop stops the shared dynalites, if this process started any, and waits
// for them to exit. Endpoint and AsyncTablesEndpoint fail after Stop. Safe
// to call more than once; Run calls it.
func Stop() {
	shared.stop()
	sharedAsync.stop()
}

// server is one running dynalite process.
type server struct {
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
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("%w: node is not in PATH; install Node.js, then %s", errMissing, installHint)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "tools", "dynalite", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s not found; %s", errMissing, bin, installHint)
	}
	var lastErr error
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, port, tableDelay)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// launch starts dynalite on port and waits until it accepts connections.
func launch(bin string, port int, tableDelay time.Duration) (*server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &server{endpoint: "http://" + addr, done: make(chan struct{}), out: &tail{max: outputTail}}
	ms := strconv.FormatInt(tableDelay.Milliseconds(), 10)
	cmd := exec.Command(bin,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", ms, "--deleteTableMs", ms, "--updateTableMs", ms)
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
		return nil, fmt.Errorf("dynamotest: starting %s: %w", bin, err)
	}
	if err := s.waitReady(addr); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls until addr accepts TCP connections, the process exits,
// or startTimeout passes.
func (s *server) waitReady(addr string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dynamotest: dynalite did not accept connections on %s within %v; output:\n%s",
				addr, startTimeout, s.out)
		}
		select {
		case <-s.done:
			return fmt.Errorf("dynamotest: dynalite exited before accepting connections (%v); output:\n%s",
				s.waitErr, s.out)
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
// dynalite treats --port 0 as its default 4567, so the port must be picked
// here.
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
