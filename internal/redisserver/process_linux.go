package redisserver

import (
	"os/exec"
	"syscall"
)

// sysProcAttr has the kernel kill redis-server if the thread that started
// it dies without stopping it (a panic, a test's -timeout), so no server
// outlives its owner, and with ownGroup puts it in a process group of its
// own.
func sysProcAttr(ownGroup bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: ownGroup, Pdeathsig: syscall.SIGKILL}
}

// kill sends SIGKILL to the server, and with ownGroup to its whole process
// group, which the server leads.
func kill(cmd *exec.Cmd, ownGroup bool) {
	if ownGroup {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = cmd.Process.Kill()
}
