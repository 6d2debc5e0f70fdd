//go:build !linux

package redisserver

import (
	"os/exec"
	"syscall"
)

// sysProcAttr sets nothing where the kernel has no parent-death signal;
// the owner stops the server when it ends.
func sysProcAttr(bool) *syscall.SysProcAttr { return nil }

// kill kills the server.
func kill(cmd *exec.Cmd, _ bool) {
	_ = cmd.Process.Kill()
}
