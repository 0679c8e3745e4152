package discovery

import (
	"testing"
	"time"
)

// TestRepairFetchesLostEntry loses an entry broadcast on purpose: the
// owner installs a new entry and announces its metadata, but queues no
// entry broadcast, and periodic push/pull is out of the way. The other
// member sees from the metadata that its copy lags and fetches the entry.
// memberlist starts periodic push/pull at a random point of the first
// interval; with a day's interval, the chance that one brings the entry
// before the repair does is a few in a hundred thousand.
func TestRepairFetchesLostEntry(t *testing.T) {
	var ms []*Membership
	for i, s := range []string{"alpha", "beta"} {
		cfg := testConfig(t, s)
		cfg.Timing.PushPullInterval = 24 * time.Hour
		if i > 0 {
			cfg.Join = []string{ms[0].Addr()}
		}
		ms = append(ms, start(t, cfg))
	}
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	a, b := ms[0], ms[1]
	waitFor(t, 2*time.Second, func() bool { return b.queue.NumQueued() == 0 })

	old, _ := b.cat.localEntry()
	in := old.Clone()
	in.Seq++
	in.Weight = 9
	in.Endpoints = append(in.Endpoints, Endpoint{Protocol: "grpc", Addr: "127.0.0.1:9090"})
	wire, err := encodeEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	b.cat.setLocal(in, wire)
	_ = b.ml.UpdateNode(time.Nanosecond)

	if !waitFor(t, 10*time.Second, func() bool {
		got := find(a.View(), "beta", b.Name())
		return got != nil && got.Seq == in.Seq && got.Weight == 9 && len(got.Endpoints) == 2
	}) {
		t.Fatalf("lost entry never repaired: %+v", find(a.View(), "beta", b.Name()))
	}
	// The repair is counted when its exchange returns, after the merge
	// the view shows.
	if !waitFor(t, 10*time.Second, func() bool { return a.Stats().Repairs > 0 }) {
		t.Error("no repair counted")
	}
}

func TestRepairBacksOff(t *testing.T) {
	tc := newTestCatalog(t)
	tc.repairs = newRepairer(Timing{GossipInterval: 10 * time.Millisecond, PushPullInterval: 100 * time.Millisecond})
	b := entry("b-00000001", "b", StateReady, 3)
	tc.nodeAlive(b.Node, "127.0.0.1:7", metaOf(b, false)) // no entry yet: lagging
	if addr, next := tc.dueRepair(); addr != "" || !next.Equal(tc.clock.Add(30*time.Millisecond)) {
		t.Fatalf("repair before grace: %q, next %v", addr, next)
	}
	var waits []time.Duration
	for range 5 {
		tc.clock = tc.clock.Add(time.Second)
		addr, next := tc.dueRepair()
		if addr != "127.0.0.1:7" {
			t.Fatalf("due = %q", addr)
		}
		waits = append(waits, next.Sub(tc.clock))
	}
	want := []time.Duration{30, 60, 100, 100, 100}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff %v, want %v ms", waits, want)
		}
	}
	// Once the entry arrives, nothing is due.
	tc.nodeAlive(b.Node, "127.0.0.1:7", metaOf(b, false))
	tc.mergeEntry(wireOf(t, b), "test")
	tc.clock = tc.clock.Add(time.Second)
	if addr, next := tc.dueRepair(); addr != "" || !next.IsZero() {
		t.Errorf("repair after catch-up: %q, %v", addr, next)
	}
}

// TestRepairOneExchangeAtATime checks that lagging peers are repaired one
// exchange at a time, so that one push/pull can mend several lags before
// the next is chosen.
func TestRepairOneExchangeAtATime(t *testing.T) {
	tc := newTestCatalog(t)
	tc.repairs = newRepairer(Timing{GossipInterval: 10 * time.Millisecond, PushPullInterval: 100 * time.Millisecond})
	b := entry("b-00000001", "b", StateReady, 3)
	c := entry("c-00000001", "c", StateReady, 3)
	tc.nodeAlive(b.Node, "127.0.0.1:7", metaOf(b, false))
	tc.nodeAlive(c.Node, "127.0.0.1:8", metaOf(c, false))
	tc.clock = tc.clock.Add(time.Second)
	first, _ := tc.dueRepair()
	if first != "127.0.0.1:7" && first != "127.0.0.1:8" {
		t.Fatalf("first due = %q", first)
	}
	// The exchange with the first brought both entries: nothing more is due.
	tc.mergeEntry(wireOf(t, b), "push/pull")
	tc.mergeEntry(wireOf(t, c), "push/pull")
	if addr, next := tc.dueRepair(); addr != "" || !next.IsZero() {
		t.Errorf("second repair after one exchange mended both: %q, %v", addr, next)
	}
}

// TestMergeHeldEntrySkipsDecoding checks that an entry held byte for byte
// is old news, and that a newer one for the same node replaces it.
func TestMergeHeldEntrySkipsDecoding(t *testing.T) {
	tc := newTestCatalog(t)
	b := entry("b-00000001", "b", StateReady, 3)
	tc.nodeAlive(b.Node, "127.0.0.1:7", metaOf(b, false))
	if got := tc.mergeEntry(wireOf(t, b), "gossip"); got != b.Node {
		t.Fatalf("first merge relays %q, want %q", got, b.Node)
	}
	if got := tc.mergeEntry(wireOf(t, b), "gossip"); got != "" {
		t.Fatalf("held entry relayed again: %q", got)
	}
	w := wireOf(t, b)
	if allocs := testing.AllocsPerRun(100, func() { tc.mergeEntry(w, "gossip") }); allocs > 0 {
		t.Errorf("merging a held entry allocates %v times, want 0 (no decoding)", allocs)
	}
	newer := *b
	newer.Seq++
	newer.Weight = 7
	if got := tc.mergeEntry(wireOf(t, &newer), "gossip"); got != b.Node {
		t.Fatalf("newer entry not taken: %q", got)
	}
	if n := len(tc.held); n != 1 {
		t.Errorf("%d wires held for one peer, want 1", n)
	}
	if got := tc.mergeEntry(wireOf(t, b), "gossip"); got != "" {
		t.Fatalf("older entry relayed: %q", got)
	}
}
