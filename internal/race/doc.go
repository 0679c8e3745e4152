// Package race tells tests whether they run under the race detector,
// which changes allocation counts: sync.Pool drops items at random, and
// instrumented code allocates where plain code does not. Allocation
// guards skip under it, and scripts/test runs them again without it.
package race
