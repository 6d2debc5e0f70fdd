//go:build !linux

package dynamotest

import (
	"os"
	"syscall"
)

// sysProcAttr has no portable way to tie the child's life to ours outside
// Linux; Stop (via Run) is what stops the server there.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killTree kills the process pid.
func killTree(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
