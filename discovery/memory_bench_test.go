package discovery

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"
)

// BenchmarkFleetMemory measures the heap of one real member whose
// catalog holds a fleet: 1,000 members across 100 services. The member
// runs as in production (real memberlist, LAN timing, one loopback
// address); the other 999 are announced to it over UDP as memberlist
// announces members, an alive message each, followed by its entry as a
// gossiped user message, so that everything a member keeps per peer
// (memberlist's node state, the catalog's peer, metadata and entry, the
// view) is built by the code that builds it in production. The announced
// members do not run, so the member's probes are slowed to once a minute
// lest it declare them dead while it is measured.
//
// heap-MB is the live heap the member added, after a full collection;
// B/member is that divided by the members it holds.
func BenchmarkFleetMemory(b *testing.B) {
	const members = 1000
	idle := goleak.IgnoreCurrent()
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		timing := DefaultLANTiming()
		timing.ProbeInterval = time.Minute
		cfg := fleetConfig(0, timing, testLogger(b, "fleet"), nil)
		cfg.Key = nil // the announcements are plain; encryption keeps nothing per peer
		m, err := Start(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		announceFleet(b, m, members-1)

		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		st := m.Stats()
		if st.Members != members || st.Instances != members {
			b.Fatalf("member holds %d members and %d entries, want %d of each", st.Members, st.Instances, members)
		}
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap/1e6, "heap-MB")
		b.ReportMetric(heap/members, "B/member")
		_ = m.Close()
		// The next baseline must not count this member: wait until
		// its last goroutine (a probe outliving Shutdown) has ended.
		if !waitFor(b, 30*time.Second, func() bool { return goleak.Find(idle) == nil }) {
			b.Fatalf("member still running after Close: %v", goleak.Find(idle))
		}
	}
}

// mlAlive is memberlist's alive message (net.go), field for field: part
// of its wire protocol.
type mlAlive struct {
	Incarnation uint32
	Node        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Vsn         []uint8
}

// announceFleet announces n members of fleetServices services to m, as
// their own memberlist and gossip would, and waits until m holds every
// one and its entry.
func announceFleet(tb testing.TB, m *Membership, n int) {
	tb.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp", m.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	send := func(msg []byte) {
		pkt, err := memberlist.AddLabelHeaderToPacket(msg, testMesh)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := conn.WriteToUDP(pkt, to); err != nil {
			tb.Fatal(err)
		}
	}
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	const batch = 100 // well below memberlist's handler queue of 1,024
	for first := 0; first < n; first += batch {
		for i := first + 1; i <= min(first+batch, n); i++ {
			in := fleetConfig(i, DefaultLANTiming(), nil, nil).Local
			in.Node = fmt.Sprintf("%s-%08x", in.Service, i)
			in.Seq = 1
			wire, err := encodeEntry(&in)
			if err != nil {
				tb.Fatal(err)
			}
			var buf bytes.Buffer
			buf.WriteByte(mlAliveMsg)
			err = codec.NewEncoder(&buf, h).Encode(&mlAlive{
				Incarnation: 1,
				Node:        in.Node,
				Addr:        net.IPv4(127, 0, 0, 1).To4(),
				Port:        uint16(20000 + i),
				Meta:        encodeMeta(nodeMeta{state: in.State, seq: in.Seq, service: in.Service}),
				Vsn:         []uint8{1, 5, 2, 0, 0, 0},
			})
			if err != nil {
				tb.Fatal(err)
			}
			send(buf.Bytes())
			send(append([]byte{mlUserMsg}, wire...))
		}
		want := min(first+batch, n) + 1
		if !waitFor(tb, 30*time.Second, func() bool {
			st := m.Stats()
			return st.Members == want && st.Instances == want
		}) {
			tb.Fatalf("announced %d members, member holds %+v", want-1, m.Stats())
		}
	}
}
