// Package chaos holds Weft's chaos tests: real nodes, one process per host,
// on a lab of hosts made of network namespaces (internal/hosttest), under
// partitions, one-way links, crashes, restarts, gossip loss and delay and
// busy CPUs. Each test checks what must hold (no request served twice,
// the mesh whole again after a partition) with margins that survive a
// loaded 2-core machine, and logs what it measured as "figure: name=value"
// lines, which docs/RELIABILITY.md quotes.
//
// The tests need root and the ip and nft commands; without them they skip
// and say why. The package has no code of its own.
package chaos
