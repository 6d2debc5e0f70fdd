package bench

import (
	"os/exec"
	"syscall"
)

// detach puts the server in a process group of its own, so that a Ctrl-C
// at the terminal interrupts the harness (which then stops the server)
// and not the server, and has the kernel kill the server if the harness
// dies without stopping it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
