//go:build !race

package engine_test

// raceEnabled reports whether the tests run under the race detector, which
// changes allocation counts (sync.Pool drops items at random).
const raceEnabled = false
