// Package proctest runs helper programs, such as SPIRE or Jaeger, as child
// processes of a test binary, and is shared by the packages that start
// them (internal/spiretest, internal/jaegertest).
//
// A [Process] runs in its own process group with its output appended to a
// log file; on Linux the kernel kills it if the test binary dies first, so
// that no program outlives its test. [Process.Stop] sends SIGTERM to the
// group and SIGKILL a few seconds later. [Process.AwaitReady] polls health
// URLs until they answer 200, the program exits or ctx ends, and failures
// quote the end of the program's log.
//
// Errors name the program (or the step that failed) but carry no package
// prefix: the package that runs the program adds its own, so that a test
// sees "spiretest: spire-server: ...".
package proctest
