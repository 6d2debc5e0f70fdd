package dynamotest

import "syscall"

// sysProcAttr puts dynalite in its own process group, so killTree reaches
// anything it spawns, and has the kernel kill it if the test binary dies
// without running Stop (a panic, a timeout, SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills the process group led by pid.
func killTree(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
