//go:build !unix

package invalidation_test

// processCPUSeconds reports that this platform's process CPU time is not
// measured; BenchmarkRedisFanout then omits its go-cores metric.
func processCPUSeconds() (float64, bool) { return 0, false }
