//go:build !linux

package bench

import "os/exec"

// detach does nothing where there is no parent-death signal; the harness
// stops the server when it ends.
func detach(*exec.Cmd) {}
