// Quickstart runs a small shop on a Weft mesh inside one process, on
// loopback, and shows live how the mesh spreads its traffic.
//
// The shop is frontend → checkout → payments (v1 and v2) and
// frontend → inventory. Every service instance is its own [mesh.Node] with
// its own gossip port and HTTP listener, all configured by one policy
// (mesh.yaml, embedded; see -policy). A client-only "loadgen" node sends a
// steady stream of requests to http://frontend/, and every second the
// program prints, per endpoint, what it served and how fast.
//
// Midway one checkout instance shuts down gracefully ([mesh.Node.Shutdown])
// and one inventory instance is killed ([mesh.Node.Close]); the table shows
// their traffic moving to the others.
//
// Usage:
//
//	go run ./examples/quickstart                 # until Ctrl-C
//	go run ./examples/quickstart -duration 20s   # stops by itself
//
// Flags:
//
//	-duration d   stop after d; 0 runs until interrupted (default 0)
//	-rate n       requests per second sent to frontend (default 200)
//	-policy path  policy file to use and watch instead of the embedded mesh.yaml
//	-admin addr   admin endpoint of the loadgen node, "" for none (default 127.0.0.1:9901)
//	-v, -vv       show the nodes' logs at Info or Debug level (default Warn)
//
// It exits with status 1 if the shop cannot start or fewer than 95% of the
// requests succeed.
package main
