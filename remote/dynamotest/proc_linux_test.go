package dynamotest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests check that no emulator outlives its test binary.

func TestServerStop(t *testing.T) {
	forEachEmulator(t, func(t *testing.T, e emulator) {
		e.need(t)
		s, err := e.start()
		if err != nil {
			t.Fatal(err)
		}
		addr := strings.TrimPrefix(s.endpoint, "http://")
		if conn, err := net.Dial("tcp", addr); err != nil {
			t.Fatalf("started server does not accept connections: %v", err)
		} else {
			conn.Close()
		}
		s.stop()
		s.stop() // idempotent
		if alive(s.pid) {
			t.Fatalf("%s pid %d still running after stop", e.name, s.pid)
		}
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts connections after stop", addr)
		}
	})
}

// TestOrphanKilled runs a test binary that starts an emulator and exits
// without Stop, as a crashed or killed test run would; the kernel must
// kill the emulator (Pdeathsig).
func TestOrphanKilled(t *testing.T) {
	forEachEmulator(t, func(t *testing.T, e emulator) {
		e.need(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), orphanEnv+"="+e.name)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v, output %q", err, out)
		}
		line, _, _ := bufio.NewReader(strings.NewReader(string(out))).ReadLine()
		pid, err := strconv.Atoi(string(line))
		if err != nil {
			t.Fatalf("child printed %q; want a pid", out)
		}
		// Poll the condition, bounded: the signal is asynchronous.
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for alive(pid) {
			select {
			case <-deadline:
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("%s pid %d outlived the test binary that started it", e.name, pid)
			case <-tick.C:
			}
		}
	})
}

// alive reports whether pid runs (a zombie awaiting its reaper is dead).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may hold spaces.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
