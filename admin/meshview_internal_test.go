package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/transport/observe"
)

// catalogNode is a node as its admin endpoint reads it: a catalog and
// gossip members set by the test before it asks for a mesh view.
type catalogNode struct {
	instances []*discovery.Instance
	members   []discovery.Member
}

func (c *catalogNode) Status() Status                   { return Status{} }
func (c *catalogNode) Draining() bool                   { return false }
func (c *catalogNode) Instances() []*discovery.Instance { return c.instances }
func (c *catalogNode) Members() []discovery.Member      { return c.members }

// add puts member node of service into the catalog, gossiping on gossip
// and advertising its admin endpoint on admin.
func (c *catalogNode) add(node, service, gossip, admin string) {
	c.instances = append(c.instances, &discovery.Instance{Node: node, Service: service, State: discovery.StateReady,
		Endpoints: []discovery.Endpoint{{Protocol: "http", Addr: "127.0.0.1:1"}, {Protocol: Protocol, Addr: admin}}})
	c.members = append(c.members, discovery.Member{Name: node, Addr: gossip, Status: discovery.StatusAlive, Service: service})
}

// recorder returns the counts of member node of service after it called
// each destination n times.
func recorder(node, service string, calls map[string]int) *stats.Recorder {
	r := stats.NewRecorder(stats.Config{Service: service, Node: node})
	now := time.Now()
	for dst, n := range calls {
		for range n {
			r.EndCall(context.Background(), &observe.CallInfo{Protocol: "http", Destination: dst, Status: 200, Start: now, End: now.Add(time.Millisecond)})
		}
	}
	return r
}

// startServer serves the admin endpoint of member node on a loopback
// port until the test ends.
func startServer(t *testing.T, n Node, node string, rec *stats.Recorder) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Config{Listener: l, Node: n, NodeName: node, Stats: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func viewEdges(v MeshView) map[string]uint64 {
	got := map[string]uint64{}
	for _, e := range v.Edges {
		got[e.Source+" → "+e.Destination] = e.Requests
	}
	return got
}

func peerErrors(v MeshView) map[string]string {
	got := map[string]string{}
	for _, p := range v.Peers {
		got[p.Node] = p.Error
	}
	return got
}

// Two members whose catalog entries advertise one admin address: the
// address answers with one node's counts, which are never shown as the
// other's. Here checkout-1's view has frontend-1 advertising checkout-1's
// own address and frontend-2 advertising payments-1's: checkout's 10
// calls to payments must not also appear as frontend → payments.
func TestMeshViewRefusesAnotherNodesCounts(t *testing.T) {
	self := &catalogNode{}
	viewer := startServer(t, self, "checkout-1", recorder("checkout-1", "checkout", map[string]int{"payments": 10}))
	payments := startServer(t, &catalogNode{}, "payments-1", recorder("payments-1", "payments", map[string]int{"ledger": 3}))
	self.add("checkout-1", "checkout", "127.0.0.1:7001", viewer.Addr())
	self.add("payments-1", "payments", "127.0.0.1:7002", payments.Addr())
	self.add("frontend-1", "frontend", "127.0.0.1:7003", viewer.Addr())
	self.add("frontend-2", "frontend", "127.0.0.1:7004", payments.Addr())

	v := viewer.meshView(context.Background())
	edges := viewEdges(v)
	want := map[string]uint64{"checkout → payments": 10, "payments → ledger": 3}
	for e, n := range want {
		if edges[e] != n {
			t.Errorf("%s: %d requests, want %d", e, edges[e], n)
		}
	}
	for e := range edges {
		if _, ok := want[e]; !ok {
			t.Errorf("edge %s from counts shown under another node's name (edges %v)", e, edges)
		}
	}
	errs := peerErrors(v)
	if errs["payments-1"] != "" {
		t.Errorf("payments-1: %s", errs["payments-1"])
	}
	for node, other := range map[string]string{"frontend-1": "checkout-1", "frontend-2": "payments-1"} {
		if e := errs[node]; !strings.Contains(e, `counts of node "`+other+`", not `+node+`'s`) || !strings.Contains(e, "advertise one admin address") {
			t.Errorf("%s: error %q, want a refusal of %s's counts", node, e, other)
		}
	}
}

// A loopback or unspecified admin address advertised by a member on
// another host is not asked: on this host it reaches some other process
// (here one that even claims to be that member), not the member. Such a
// member is reported in the view, and one on this host is read as usual.
func TestMeshViewDoesNotAskLoopbackOnAnotherHost(t *testing.T) {
	var asked atomic.Int64
	claimant := recorder("frontend-1", "frontend", map[string]int{"payments": 7})
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		json.NewEncoder(w).Encode(claimant.Snapshot())
	}))
	t.Cleanup(local.Close)
	_, port, _ := net.SplitHostPort(local.Listener.Addr().String())

	self := &catalogNode{}
	viewer := startServer(t, self, "checkout-1", recorder("checkout-1", "checkout", nil))
	sameHost := startServer(t, &catalogNode{}, "search-1", recorder("search-1", "search", map[string]int{"index": 2}))
	self.add("checkout-1", "checkout", "10.0.0.1:7946", viewer.Addr())
	self.add("frontend-1", "frontend", "10.0.0.2:7946", "127.0.0.1:"+port)
	self.add("frontend-2", "frontend", "10.0.0.3:7946", "0.0.0.0:"+port)
	self.add("frontend-3", "frontend", "10.0.0.4:7946", "[::1]:"+port)
	self.add("search-1", "search", "10.0.0.1:7950", sameHost.Addr())

	v := viewer.meshView(context.Background())
	if n := asked.Load(); n != 0 {
		t.Errorf("a loopback address of another host was asked %d times", n)
	}
	edges := viewEdges(v)
	if edges["frontend → payments"] != 0 || edges["search → index"] != 2 {
		t.Errorf("edges %v, want search → index only", edges)
	}
	errs := peerErrors(v)
	if errs["search-1"] != "" {
		t.Errorf("search-1, on this host, was not read: %s", errs["search-1"])
	}
	for node, want := range map[string]string{
		"frontend-1": "listens on loopback on its host 10.0.0.2",
		"frontend-2": "listens on an unspecified address (0.0.0.0) on its host 10.0.0.3",
		"frontend-3": "listens on loopback on its host 10.0.0.4",
	} {
		if e := errs[node]; !strings.Contains(e, want) || !strings.Contains(e, "admin.listen") {
			t.Errorf("%s: error %q, want %q and what to do", node, e, want)
		}
	}
}

func TestUnreachableAdmin(t *testing.T) {
	for _, tc := range []struct {
		admin, peer, self string
		refused           bool
	}{
		{"10.0.0.2:9901", "10.0.0.2:7946", "10.0.0.1:7946", false},
		{"127.0.0.1:9901", "10.0.0.2:7946", "10.0.0.1:7946", true},
		{"127.0.0.1:9901", "10.0.0.1:7947", "10.0.0.1:7946", false},
		{"127.0.0.1:9901", "127.0.0.1:7947", "127.0.0.1:7946", false},
		{"127.0.0.1:9901", "127.0.0.2:7947", "127.0.0.1:7946", false},
		{"[::1]:9901", "[fd00::2]:7946", "[fd00::1]:7946", true},
		{"[::1]:9901", "[fd00::1]:7947", "[fd00::1]:7946", false},
		{"localhost:9901", "10.0.0.2:7946", "10.0.0.1:7946", true},
		{"[::]:9901", "10.0.0.2:7946", "10.0.0.1:7946", true},
		{"127.0.0.1:9901", "", "10.0.0.1:7946", true}, // a member no longer listed
		{"127.0.0.1:9901", "10.0.0.2:7946", "", true},
	} {
		if got := unreachableAdmin(tc.admin, tc.peer, tc.self); (got != "") != tc.refused {
			t.Errorf("admin %s of a member gossiping on %s, seen from %s: %q, want refused %v", tc.admin, tc.peer, tc.self, got, tc.refused)
		}
	}
}
