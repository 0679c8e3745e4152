package discovery

import (
	"sync/atomic"
	"testing"
	"time"
)

// testCatalog is a catalog with a controllable clock that records the
// views it publishes.
type testCatalog struct {
	*catalog
	clock   time.Time
	views   []*View
	dropped atomic.Uint64
}

func newTestCatalog(t *testing.T) *testCatalog {
	tc := &testCatalog{clock: time.Unix(1000, 0)}
	self := &Instance{Node: "self-00000000", Service: "self", State: StateReady, Seq: 1}
	wire, err := encodeEntry(self)
	if err != nil {
		t.Fatal(err)
	}
	tc.catalog = newCatalog(self, wire, time.Minute, testLogger(t, "catalog"), &tc.dropped, func(v *View) { tc.views = append(tc.views, v) })
	tc.now = func() time.Time { return tc.clock }
	return tc
}

func entry(node, service string, state State, seq uint64) *Instance {
	return &Instance{Node: node, Service: service, State: state, Seq: seq,
		Endpoints: []Endpoint{{Protocol: "http", Addr: "127.0.0.1:9000"}}}
}

func wireOf(t *testing.T, in *Instance) []byte {
	t.Helper()
	b, err := encodeEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func metaOf(in *Instance, leaving bool) []byte {
	return encodeMeta(nodeMeta{state: in.State, seq: in.Seq, service: in.Service, leaving: leaving})
}

func (tc *testCatalog) shows(node string) *Instance {
	v := tc.current()
	for _, s := range v.Services() {
		for _, in := range v.Instances(s) {
			if in.Node == node {
				return in
			}
		}
	}
	return nil
}

func TestCatalogVisibility(t *testing.T) {
	tc := newTestCatalog(t)
	if tc.shows("self-00000000") == nil {
		t.Fatal("own entry not in the initial view")
	}
	a1 := entry("a-00000001", "a", StateStarting, 1)

	// An entry that overtakes its node's join is kept, not shown, and
	// relayed.
	if relay := tc.mergeEntry(wireOf(t, a1), "test"); relay != a1.Node {
		t.Errorf("relay = %q", relay)
	}
	if tc.shows(a1.Node) != nil {
		t.Fatal("entry shown before its node joined")
	}
	v0 := tc.current().Version()
	tc.nodeAlive(a1.Node, "127.0.0.1:1", metaOf(a1, false))
	if tc.shows(a1.Node) == nil || tc.current().Version() <= v0 {
		t.Fatal("entry not shown after join")
	}

	// Older or equal Seq is ignored, newer replaces.
	stale := entry(a1.Node, "a", StateDraining, 1)
	if relay := tc.mergeEntry(wireOf(t, stale), "test"); relay != "" {
		t.Error("equal Seq relayed")
	}
	if tc.shows(a1.Node).State != StateStarting {
		t.Error("equal Seq replaced the entry")
	}
	a2 := entry(a1.Node, "a", StateReady, 2)
	tc.mergeEntry(wireOf(t, a2), "test")
	if got := tc.shows(a1.Node); got.State != StateReady || got.Seq != 2 {
		t.Errorf("newer entry not applied: %+v", got)
	}

	// Metadata with a newer Seq applies its state at once; the full entry
	// of that Seq then takes over.
	a3 := entry(a1.Node, "a", StateDraining, 3)
	a3.Weight = 7
	tc.nodeAlive(a1.Node, "127.0.0.1:1", metaOf(a3, false))
	if got := tc.shows(a1.Node); got.State != StateDraining || got.Seq != 2 {
		t.Errorf("meta state not applied: %+v", got)
	}
	n := len(tc.views)
	tc.nodeAlive(a1.Node, "127.0.0.1:1", metaOf(a3, false)) // same meta again
	if len(tc.views) != n {
		t.Error("unchanged meta published a view")
	}
	tc.mergeEntry(wireOf(t, a3), "test")
	if got := tc.shows(a1.Node); got.State != StateDraining || got.Seq != 3 || got.Weight != 7 {
		t.Errorf("full entry did not take over: %+v", got)
	}

	// Our own entry, gossiped back with a higher Seq, is ignored.
	self := entry("self-00000000", "self", StateDraining, 99)
	if relay := tc.mergeEntry(wireOf(t, self), "test"); relay != "" || tc.shows("self-00000000").Seq != 1 {
		t.Error("own entry overwritten by a peer")
	}

	// Death removes the entry at once, and stale gossip cannot bring it
	// back, whatever its Seq.
	tc.nodeGone(a1.Node)
	if tc.shows(a1.Node) != nil {
		t.Fatal("dead node still shown")
	}
	a9 := entry(a1.Node, "a", StateReady, 9)
	if relay := tc.mergeEntry(wireOf(t, a9), "test"); relay != "" {
		t.Error("news about a dead node relayed")
	}
	if tc.shows(a1.Node) != nil {
		t.Fatal("stale gossip resurrected a dead node")
	}
	// A node that refutes its death comes back with its latest entry.
	tc.nodeAlive(a1.Node, "127.0.0.1:1", metaOf(a9, false))
	if got := tc.shows(a1.Node); got == nil || got.Seq != 9 {
		t.Fatalf("refuting node not back: %+v", got)
	}
	if st := statusOf(tc.members(), a1.Node); st != StatusAlive {
		t.Errorf("status %v", st)
	}
	// A failed probe makes it suspect, without leaving views; a
	// successful one clears that.
	tc.suspect(a1.Node)
	if st := statusOf(tc.members(), a1.Node); st != StatusSuspect || tc.shows(a1.Node) == nil {
		t.Errorf("after a failed probe: status %v, shown %v", st, tc.shows(a1.Node) != nil)
	}
	tc.probed(a1.Node)
	if st := statusOf(tc.members(), a1.Node); st != StatusAlive {
		t.Errorf("after a good probe: status %v", st)
	}

	// The leaving flag removes the entry before the leave itself; the
	// member is then reported as left, not dead.
	tc.nodeAlive(a1.Node, "127.0.0.1:1", metaOf(a9, true))
	if tc.shows(a1.Node) != nil {
		t.Fatal("leaving node still shown")
	}
	tc.nodeGone(a1.Node)
	if st := statusOf(tc.members(), a1.Node); st != StatusLeft {
		t.Errorf("status %v, want left", st)
	}

	// Departed nodes and orphan entries are forgotten after retention.
	tc.mergeEntry(wireOf(t, entry("orphan-00000001", "o", StateReady, 1)), "test")
	tc.clock = tc.clock.Add(2 * time.Minute)
	tc.nodeAlive("b-00000001", "127.0.0.1:2", metaOf(entry("b-00000001", "b", StateReady, 1), false))
	if _, ok := tc.peers[a1.Node]; ok {
		t.Error("departed node not pruned")
	}
	if _, ok := tc.peers["orphan-00000001"]; ok {
		t.Error("orphan entry not pruned")
	}
	if tc.dropped.Load() != 0 {
		t.Errorf("%d drops counted for valid input", tc.dropped.Load())
	}

	// Versions only grow.
	for i := 1; i < len(tc.views); i++ {
		if tc.views[i].Version() <= tc.views[i-1].Version() {
			t.Fatal("view versions not increasing")
		}
	}
}

func statusOf(ms []Member, name string) Status {
	for _, m := range ms {
		if m.Name == name {
			return m.Status
		}
	}
	return 0
}

func TestCatalogLocalStateAndClose(t *testing.T) {
	tc := newTestCatalog(t)
	b := entry("b-00000001", "b", StateReady, 4)
	tc.nodeAlive(b.Node, "127.0.0.1:2", metaOf(b, false))
	tc.mergeEntry(wireOf(t, b), "test")
	c := entry("c-00000001", "c", StateReady, 1)
	tc.mergeEntry(wireOf(t, c), "test") // not a member yet: not shared

	var got []string
	if err := decodeState(encodeState(tc.entries()), func(e []byte) {
		in, err := decodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in.Node)
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "self-00000000" || got[1] != b.Node {
		t.Errorf("local state holds %v", got)
	}

	tc.close()
	n := len(tc.views)
	tc.nodeGone(b.Node)
	tc.nodeAlive(c.Node, "127.0.0.1:3", metaOf(c, false))
	tc.mergeEntry(wireOf(t, entry(b.Node, "b", StateDraining, 5)), "test")
	if len(tc.views) != n {
		t.Error("closed catalog published views")
	}
}

func TestViewIsSortedAndShared(t *testing.T) {
	v := newView(3, []*Instance{
		entry("z-1", "web", StateReady, 1),
		entry("a-1", "web", StateReady, 1),
		entry("m-1", "api", StateReady, 1),
	})
	if got := v.Services(); len(got) != 2 || got[0] != "api" || got[1] != "web" {
		t.Errorf("Services() = %v", got)
	}
	web := v.Instances("web")
	if web[0].Node != "a-1" || web[1].Node != "z-1" {
		t.Errorf("not sorted by node: %v, %v", web[0].Node, web[1].Node)
	}
	if cap(web) != len(web) {
		t.Error("appending to Instances() could write into the view")
	}
	if v.Instances("nope") != nil || v.Has("nope") || !v.Has("api") || v.Version() != 3 {
		t.Error("lookups wrong")
	}
}
