//go:build unix

package invalidation_test

import "syscall"

// processCPUSeconds returns the CPU time this process has used so far,
// user and system, and true; see fanout_bench_test.go.
func processCPUSeconds() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}
