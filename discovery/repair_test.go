package discovery

import (
	"testing"
	"time"
)

// TestRepairFetchesLostEntry loses an entry broadcast on purpose: the
// owner installs a new entry and announces its metadata, but queues no
// entry broadcast, and periodic push/pull is out of the way. The other
// member sees from the metadata that its copy lags and fetches the entry.
func TestRepairFetchesLostEntry(t *testing.T) {
	var ms []*Membership
	for i, s := range []string{"alpha", "beta"} {
		cfg := testConfig(t, s)
		cfg.Timing.PushPullInterval = time.Minute
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

	if !waitFor(t, 3*time.Second, func() bool {
		got := find(a.View(), "beta", b.Name())
		return got != nil && got.Seq == in.Seq && got.Weight == 9 && len(got.Endpoints) == 2
	}) {
		t.Fatalf("lost entry never repaired: %+v", find(a.View(), "beta", b.Name()))
	}
	if a.Stats().Repairs == 0 {
		t.Error("no repair counted")
	}
}

func TestRepairBacksOff(t *testing.T) {
	tc := newTestCatalog(t)
	tc.repairs = newRepairer(Timing{GossipInterval: 10 * time.Millisecond, PushPullInterval: 100 * time.Millisecond})
	b := entry("b-00000001", "b", StateReady, 3)
	tc.nodeAlive(b.Node, "127.0.0.1:7", metaOf(b, false)) // no entry yet: lagging
	if addrs, next := tc.dueRepairs(); len(addrs) != 0 || !next.Equal(tc.clock.Add(30*time.Millisecond)) {
		t.Fatalf("repair before grace: %v, next %v", addrs, next)
	}
	var waits []time.Duration
	for range 5 {
		tc.clock = tc.clock.Add(time.Second)
		addrs, next := tc.dueRepairs()
		if len(addrs) != 1 || addrs[0] != "127.0.0.1:7" {
			t.Fatalf("due = %v", addrs)
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
	if addrs, next := tc.dueRepairs(); len(addrs) != 0 || !next.IsZero() {
		t.Errorf("repair after catch-up: %v, %v", addrs, next)
	}
}
