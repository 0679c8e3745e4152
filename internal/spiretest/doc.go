// Package spiretest runs a real SPIRE server and agent for Weft's tests, so
// that the Workload API they exercise is SPIRE's own and not a fake.
//
// [Start] writes a configuration for each process into a short temporary
// directory, binds everything to 127.0.0.1, attests the agent with a join
// token and returns once both processes report ready. The test process is
// the workload: [SPIRE.Register] creates entries selected by its own uid,
// so every identity registered becomes available to it at
// [SPIRE.SocketAddr]. Both processes are tuned to sync every second, so a
// new entry reaches the agent within about two seconds.
//
// The binaries come from scripts/build-tools, which builds SPIRE once into
// a cache outside the repository and exports their paths:
//
//	eval "$(scripts/build-tools)"
//
// Tests find them with [Binaries]. Starting SPIRE costs well under a
// second; a package should start it once (in TestMain or behind a
// sync.Once) and share it between its tests.
package spiretest
