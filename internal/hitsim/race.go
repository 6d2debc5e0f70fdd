//go:build race

package hitsim

// RaceDetector reports whether the binary was built with -race, under
// which a replay runs ten to fifty times slower (measured on local.Cache,
// depending on its internals): tests that replay long traces shorten
// them then.
const RaceDetector = true
