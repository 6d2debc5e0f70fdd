//go:build unix

package webbench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used so far,
// every thread together; ok is false where it cannot be read.
func cpuTime() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
