// Package hosttest runs a small network of hosts on one Linux machine for
// tests that need more than loopback: partitions, one-way links, crashed
// and restarted processes, admin endpoints reached from another host.
//
// A [Lab] is N hosts. Each host is a network namespace with one interface,
// eth0, and its own address in 10.213.0.0/24; the other end of each
// host's veth pair is a port of a bridge that lives in a namespace of its
// own, so a lab touches nothing in the machine's root namespace and
// parallel labs, each in namespaces of its own, may use the same addresses.
// The bridge is the lab's network: [Lab.Cut] takes a host's port down (its
// packets are lost, in both directions) and [Lab.Heal] brings it back;
// [Lab.Block] drops, with nftables in the bridge's namespace, the packets
// one host sends another, but not the other way round.
//
// Each host runs at most one process at a time: [Host.StartNode] starts the
// weftnode program (a real mesh.Node, see internal/hosttest/weftnode) in
// the host's namespace and returns its [Proc], driven over JSON lines
// (internal/hosttest/nodeapi). The program is built once per test binary.
//
// Namespaces are named weft-<pid>-<lab>-<host>, with the pid of the test
// process that made them. [Lab.Close], registered with the test's cleanup,
// kills the lab's processes and deletes its namespaces, also when the
// test fails; namespaces left behind by a test process that died are
// deleted by the next lab started on the machine.
//
// Labs need root and the ip (iproute2) and nft (nftables) commands; without
// them, [New] skips the test and says which is missing. Tests that use a
// lab should call goleak through [Cleanup], so that the built program is
// removed when they end.
//
// Packet loss and delay are not made by the lab: the kernel here has no
// netem. They are injected in Weft's own gossip transport
// (discovery.Faults, the weftnode "faults" command).
package hosttest
