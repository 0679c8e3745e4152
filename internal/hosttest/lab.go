package hosttest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// GossipPort and HTTPPort are the ports every node listens on, on its
	// host's address.
	GossipPort = 7946
	HTTPPort   = 8080

	// MaxHosts is the most hosts a lab may have.
	MaxHosts = 200
)

// firstHost is the address of host 0; host i gets firstHost + i.
var firstHost = netip.MustParseAddr("10.213.0.10")

// labs numbers the labs of this test process.
var labs atomic.Int64

// Lab is a network of hosts on one bridge. Its methods must be called from
// the test's goroutine: they fail the test when the network cannot be
// changed.
type Lab struct {
	t      testing.TB
	tools  tools
	prefix string // of every namespace: weft-<pid>-<n>
	net    string // the bridge's namespace
	dir    string // processes' logs and served IDs
	hosts  []*Host

	mu      sync.Mutex
	procs   []*Proc
	blocked map[[2]int]bool
	closed  bool
}

// Host is one host of a lab: a network namespace with an address.
type Host struct {
	lab   *Lab
	index int
	// Name is "h0", "h1", …: the name the host's node answers with.
	Name string
	// Namespace is the network namespace's name.
	Namespace string
	// IP is the host's address.
	IP netip.Addr

	proc *Proc // the running process, if any; guarded by lab.mu
}

// New makes a lab of n hosts, all linked to one bridge, and registers
// its Close with t.Cleanup. It skips t when the machine cannot run labs
// (not root, ip or nft missing) and fails it when the lab cannot be made.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	tl, why := findTools()
	if why != "" {
		t.Skip(why)
	}
	if n < 1 || n > MaxHosts {
		t.Fatalf("hosttest: %d hosts: want 1 to %d", n, MaxHosts)
	}
	if err := reap(tl.ip); err != nil {
		t.Logf("hosttest: leftovers of earlier runs not removed: %v", err)
	}
	prefix := fmt.Sprintf("weft-%d-%d", os.Getpid(), labs.Add(1))
	l := &Lab{
		t:       t,
		tools:   tl,
		prefix:  prefix,
		net:     prefix + "-net",
		dir:     t.TempDir(), // before Close's cleanup, so removed after it
		blocked: make(map[[2]int]bool),
	}
	t.Cleanup(l.Close)
	if err := l.build(n); err != nil {
		t.Fatalf("hosttest: make a lab of %d hosts: %v", n, err)
	}
	return l
}

// build makes the bridge, then each host.
func (l *Lab) build(n int) error {
	ip := l.tools.ip
	if err := run(ip, "netns", "add", l.net); err != nil {
		return err
	}
	if err := l.inNet(ip, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	if err := l.inNet(ip, "link", "set", "br0", "up"); err != nil {
		return err
	}
	// The set of blocked (from, to) pairs, consulted for every frame the
	// bridge forwards.
	rules := `table bridge weft {
	set blocked { type ipv4_addr . ipv4_addr; }
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip saddr . ip daddr @blocked drop
	}
}
`
	if err := runInput([]byte(rules), ip, "netns", "exec", l.net, l.tools.nft, "-f", "-"); err != nil {
		return err
	}
	addr := firstHost
	for i := range n {
		h := &Host{lab: l, index: i, Name: "h" + strconv.Itoa(i), IP: addr}
		h.Namespace = l.prefix + "-" + h.Name
		l.hosts = append(l.hosts, h)
		if err := h.build(); err != nil {
			return err
		}
		addr = addr.Next()
	}
	return nil
}

// build makes the host's namespace and links it to the bridge: the veth
// end in the bridge's namespace is named after the host.
func (h *Host) build() error {
	l, ip := h.lab, h.lab.tools.ip
	if err := run(ip, "netns", "add", h.Namespace); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", l.net, "link", "add", h.Name, "type", "veth", "peer", "name", "eth0", "netns", h.Namespace},
		{"-n", l.net, "link", "set", h.Name, "master", "br0", "up"},
		{"-n", h.Namespace, "addr", "add", h.IP.String() + "/24", "dev", "eth0"},
		{"-n", h.Namespace, "link", "set", "eth0", "up"},
		{"-n", h.Namespace, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := run(ip, s...); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) inNet(name string, args ...string) error {
	return run(name, append([]string{"-n", l.net}, args...)...)
}

// Hosts returns the lab's hosts, in order.
func (l *Lab) Hosts() []*Host { return l.hosts }

// Host returns host i.
func (l *Lab) Host(i int) *Host { return l.hosts[i] }

// Addr returns the host's address with port.
func (h *Host) Addr(port int) string {
	return net.JoinHostPort(h.IP.String(), strconv.Itoa(port))
}

// GossipAddr returns where a node on the host gossips.
func (h *Host) GossipAddr() string { return h.Addr(GossipPort) }

// String returns the host's name.
func (h *Host) String() string { return h.Name }

// Cut takes the host off the network: its bridge port goes down, so
// nothing it sends arrives and nothing reaches it (the host sees its link
// lose carrier, as when a cable is pulled). A new connection to it fails
// after about 3 s, when its address gets no ARP answer.
func (l *Lab) Cut(h *Host) {
	l.t.Helper()
	if err := l.inNet(l.tools.ip, "link", "set", h.Name, "down"); err != nil {
		l.t.Fatalf("hosttest: cut %s: %v", h, err)
	}
}

// Heal puts a host that was cut back on the network.
func (l *Lab) Heal(h *Host) {
	l.t.Helper()
	if err := l.inNet(l.tools.ip, "link", "set", h.Name, "up"); err != nil {
		l.t.Fatalf("hosttest: heal %s: %v", h, err)
	}
}

// Block drops every packet from sends to to, while to's packets still
// reach from. TCP between them then fails both ways (no handshake
// completes); UDP flows from to to from only.
func (l *Lab) Block(from, to *Host) {
	l.t.Helper()
	if err := l.setBlocked(from, to, true); err != nil {
		l.t.Fatalf("hosttest: block %s→%s: %v", from, to, err)
	}
}

// Unblock undoes Block(from, to). Unblocking what is not blocked does
// nothing.
func (l *Lab) Unblock(from, to *Host) {
	l.t.Helper()
	if err := l.setBlocked(from, to, false); err != nil {
		l.t.Fatalf("hosttest: unblock %s→%s: %v", from, to, err)
	}
}

func (l *Lab) setBlocked(from, to *Host, block bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	pair := [2]int{from.index, to.index}
	if l.blocked[pair] == block {
		return nil
	}
	verb := "add"
	if !block {
		verb = "delete"
	}
	elem := fmt.Sprintf("{ %s . %s }", from.IP, to.IP)
	if err := run(l.tools.ip, "netns", "exec", l.net, l.tools.nft, verb, "element", "bridge", "weft", "blocked", elem); err != nil {
		return err
	}
	l.blocked[pair] = block
	return nil
}

// Close kills the lab's processes and deletes its namespaces. It is
// registered with the test's cleanup by New; calling it again does
// nothing. What it cannot undo fails the test.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs := l.procs
	l.mu.Unlock()

	var errs []error
	for _, p := range procs {
		if err := p.kill(procWaitTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if l.t.Failed() {
		for _, p := range procs {
			p.logTail()
		}
	}
	for _, h := range l.hosts {
		if err := deleteNamespace(l.tools.ip, h.Namespace); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteNamespace(l.tools.ip, l.net); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		l.t.Errorf("hosttest: close the lab: %v", err)
	}
}

// procWaitTimeout bounds waiting for a killed process to be reaped.
const procWaitTimeout = 10 * time.Second
