package redisserver

import (
	"syscall"
	"testing"
)

func TestOwnProcessGroup(t *testing.T) {
	for _, group := range []bool{false, true} {
		s := start(t, Options{Bin: lookBin(t), Dir: t.TempDir(), OwnProcessGroup: group})
		s.mu.Lock()
		pid := s.cmd.Process.Pid
		s.mu.Unlock()
		pgid, err := syscall.Getpgid(pid)
		if err != nil {
			t.Fatal(err)
		}
		if got := pgid == pid; got != group {
			t.Errorf("OwnProcessGroup %v: server %d in process group %d", group, pid, pgid)
		}
		s.Stop()
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("OwnProcessGroup %v: server %d still there after Stop", group, pid)
		}
	}
}
