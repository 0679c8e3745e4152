package discovery

import (
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberlist message types (memberlist v0.7.0 net.go), not exported.
const (
	mlAliveMsg    = 4
	mlPushPullMsg = 6
	mlUserMsg     = 8
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	// Avoid the label header type byte, so that unlabelled garbage is
	// reported as such.
	if b[0] == 244 {
		b[0] = 0xff
	}
	return b
}

func labelled(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := memberlist.AddLabelHeaderToPacket(b, testMesh)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sendUDP(t *testing.T, addr string, payload []byte) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
}

func sendTCP(t *testing.T, addr string, payload []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
}

// TestMalformedPacketsAreCountedAndSurvived throws garbage of several kinds
// at a member of a clear-text mesh (so that well-formed memberlist framing
// around bad payloads reaches our decoders too), checks each is counted,
// and checks the mesh still works afterwards.
func TestMalformedPacketsAreCountedAndSurvived(t *testing.T) {
	var ms []*Membership
	for i, s := range []string{"alpha", "beta"} {
		cfg := testConfig(t, s)
		cfg.Key = nil
		if i > 0 {
			cfg.Join = []string{ms[0].Addr()}
		}
		ms = append(ms, start(t, cfg))
	}
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	target := ms[0]
	addr := target.Addr()

	badEntry := target.Local()
	badEntry.Node = "ghost-00000000"
	badEntry.Endpoints = []Endpoint{{Protocol: "smtp", Addr: "127.0.0.1:25"}}
	badWire, err := encodeEntry(badEntry)
	if err != nil {
		t.Fatal(err)
	}
	packets := []struct {
		name    string
		send    func()
		entries bool // counted as a dropped entry rather than a packet
	}{
		{"udp random", func() { sendUDP(t, addr, randomBytes(200)) }, false},
		{"udp empty", func() { sendUDP(t, addr, nil) }, false},
		{"udp labelled random", func() { sendUDP(t, addr, labelled(t, append([]byte{0x7f}, randomBytes(100)...))) }, false},
		{"udp truncated label", func() { sendUDP(t, addr, []byte{244, 50, 'w'}) }, false},
		{"udp other label", func() {
			b, _ := memberlist.AddLabelHeaderToPacket(randomBytes(50), "elsewhere")
			sendUDP(t, addr, b)
		}, false},
		{"udp user message, garbage payload", func() {
			sendUDP(t, addr, labelled(t, append([]byte{mlUserMsg}, randomBytes(300)...)))
		}, true},
		{"udp user message, invalid entry", func() {
			sendUDP(t, addr, labelled(t, append([]byte{mlUserMsg}, badWire...)))
		}, true},
		{"udp user message, unknown format", func() {
			sendUDP(t, addr, labelled(t, append([]byte{mlUserMsg, 9}, []byte(`{"n":"x"}`)...)))
		}, true},
		{"tcp random", func() { sendTCP(t, addr, randomBytes(500)) }, false},
		{"tcp labelled random", func() {
			sendTCP(t, addr, labelled(t, append([]byte{0x7e}, randomBytes(500)...)))
		}, false},
		{"tcp labelled push/pull garbage", func() {
			sendTCP(t, addr, labelled(t, append([]byte{mlPushPullMsg}, randomBytes(500)...)))
		}, false},
	}
	for _, p := range packets {
		before := target.Stats()
		p.send()
		ok := waitFor(t, 2*time.Second, func() bool {
			after := target.Stats()
			if p.entries {
				return after.DroppedEntries > before.DroppedEntries
			}
			return after.DroppedPackets > before.DroppedPackets
		})
		if !ok {
			t.Errorf("%s: not counted (stats %+v)", p.name, target.Stats())
		}
	}
	if target.View().Has("ghost") {
		t.Error("invalid entry made it into the view")
	}
	t.Logf("after the garbage: %+v", target.Stats())

	// The mesh still works: a new member joins through the target, and
	// all three converge.
	cfg := testConfig(t, "gamma")
	cfg.Key = nil
	cfg.Join = []string{addr}
	ms = append(ms, start(t, cfg))
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence after malformed packets")
	}
}

// TestBadPushPullStateIsCounted feeds push/pull states to the delegate
// directly: memberlist hands us the user part of a push/pull only after
// its own framing parsed.
func TestBadPushPullStateIsCounted(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	good := &Instance{Node: "beta-00000001", Service: "beta", State: StateReady, Seq: 1}
	goodWire, _ := encodeEntry(good)
	bad := good.Clone()
	bad.Node, bad.Service = "gamma-00000001", "Gamma"
	badWire, _ := encodeEntry(bad)

	// A bad entry among good ones: only it is dropped.
	m.del.MergeRemoteState(encodeState([][]byte{badWire, goodWire}), false)
	if st := m.Stats(); st.DroppedEntries != 1 || st.DroppedPackets != 0 {
		t.Errorf("stats %+v, want 1 dropped entry", st)
	}
	// Broken framing: the state is dropped as a packet.
	state := encodeState([][]byte{goodWire})
	m.del.MergeRemoteState(state[:len(state)-3], false)
	m.del.MergeRemoteState([]byte{7, 1, 2, 3}, true)
	m.del.MergeRemoteState(nil, true)
	if st := m.Stats(); st.DroppedPackets != 3 {
		t.Errorf("stats %+v, want 3 dropped packets", st)
	}
	// Node metadata that does not parse is counted once per change.
	m.del.NotifyJoin(&memberlist.Node{Name: "odd", Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: []byte{1, 2}})
	m.del.NotifyUpdate(&memberlist.Node{Name: "odd", Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: []byte{1, 2}})
	if st := m.Stats(); st.DroppedEntries != 2 {
		t.Errorf("stats %+v, want 2 dropped entries", st)
	}
}
