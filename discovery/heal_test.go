package discovery

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// healConfig is a member whose gossip can be cut with the returned Faults.
func healConfig(t *testing.T, service string, join ...string) (Config, *Faults) {
	cfg := testConfig(t, service, join...)
	cfg.Faults = new(Faults)
	cfg.Timing.ReconnectInterval = 300 * time.Millisecond
	return cfg, cfg.Faults
}

func TestPartitionHeals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  int // which member is cut off: 0 is the seed
	}{
		{"a member cut from its seed", 2},
		{"the seed cut from everyone", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, f0 := healConfig(t, "a")
			a := start(t, cfg)
			cfg, f1 := healConfig(t, "b", a.Addr())
			b := start(t, cfg)
			cfg, f2 := healConfig(t, "c", a.Addr())
			c := start(t, cfg)
			ms := []*Membership{a, b, c}
			faults := []*Faults{f0, f1, f2}
			if !waitFor(t, 10*time.Second, func() bool { return converged(ms...) }) {
				t.Fatal("no convergence before the cut")
			}
			cut := ms[tc.cut]
			if err := faults[tc.cut].Set(1, 0); err != nil {
				t.Fatal(err)
			}
			// Held until both sides declared the other dead: memberlist
			// alone never talks to a dead member again.
			if !waitFor(t, 20*time.Second, func() bool {
				for _, m := range ms {
					if m != cut && statusOf(m.Members(), cut.Name()) != StatusDead {
						return false
					}
				}
				for _, m := range ms {
					if m != cut && statusOf(cut.Members(), m.Name()) != StatusDead {
						return false
					}
				}
				return true
			}) {
				t.Fatalf("the cut member was not declared dead on both sides: %v / %v", names(ms[(tc.cut+1)%3].Members()), names(cut.Members()))
			}
			healed := time.Now()
			_ = faults[tc.cut].Set(0, 0)
			if !waitFor(t, 15*time.Second, func() bool { return converged(ms...) }) {
				for _, m := range ms {
					t.Logf("%s sees %v", m.Name(), names(m.Members()))
				}
				t.Fatal("the partition did not heal")
			}
			var reconnects uint64
			for _, m := range ms {
				reconnects += m.Stats().Reconnects
			}
			if reconnects == 0 {
				t.Error("healed without a reconnect counted")
			}
			t.Logf("healed %v after the link came back, %d reconnects", time.Since(healed).Round(time.Millisecond), reconnects)
		})
	}
}

func TestHealerIdleWhenNothingToHeal(t *testing.T) {
	cfg, _ := healConfig(t, "a")
	a := start(t, cfg)
	cfg, _ = healConfig(t, "b", a.Addr())
	b := start(t, cfg)
	cfg, _ = healConfig(t, "c", a.Addr(), b.Addr())
	c := start(t, cfg)
	if !waitFor(t, 10*time.Second, func() bool { return converged(a, b, c) }) {
		t.Fatal("no convergence")
	}
	// Ten rounds: every seed is alive and nobody died, so no round may
	// contact anyone.
	deadline := time.Now().Add(10 * cfg.Timing.ReconnectInterval)
	waitFor(t, time.Until(deadline)+time.Second, func() bool { return time.Now().After(deadline) })
	for _, m := range []*Membership{a, b, c} {
		if n := m.Stats().Reconnects; n != 0 {
			t.Errorf("%s reconnected %d times in a healthy mesh", m.Name(), n)
		}
	}
}

func TestLeftMembersAreNotReconnected(t *testing.T) {
	cfg, _ := healConfig(t, "a")
	a := start(t, cfg)
	cfg, _ = healConfig(t, "b", a.Addr())
	b := start(t, cfg)
	if !waitFor(t, 10*time.Second, func() bool { return converged(a, b) }) {
		t.Fatal("no convergence")
	}
	if err := b.Leave(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 10*time.Second, func() bool { return statusOf(a.Members(), b.Name()) == StatusLeft }) {
		t.Fatalf("a sees %v", names(a.Members()))
	}
	a.heal.mu.Lock()
	_, tracked := a.heal.lost[b.Name()]
	a.heal.mu.Unlock()
	if tracked {
		t.Error("a member that left is tracked for reconnection")
	}
}

func TestDeadMembersAreGivenUpAfterReconnectTimeout(t *testing.T) {
	var count atomic.Uint64
	tm := DefaultLocalTiming()
	tm.ReconnectTimeout = time.Minute
	h := newHealer(tm, nil, discardLogger(), &count)
	defer h.shutdown()
	now := time.Now()
	h.died("old", "127.0.0.1:1", now.Add(-2*time.Minute))
	h.died("gone", "", now) // no address: nothing to try
	h.round(nil, map[string]bool{"127.0.0.1:2": true, "127.0.0.1:3": true})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.lost) != 0 || len(h.inflight) != 0 {
		t.Errorf("after the timeout: lost %v, in flight %v; want both empty", h.lost, h.inflight)
	}
}

// TestHealerJoinsGroupsNoDeathReveals forms two groups that never saw
// each other, as members started together can: A, one of two seeds,
// starts the mesh before B runs and C joins it; B starts alone and D
// joins it. Nobody ever died, yet A misses a seed, and joins it.
func TestHealerJoinsGroupsNoDeathReveals(t *testing.T) {
	pa := net.JoinHostPort("127.0.0.1", freePort(t, "127.0.0.1"))
	pb := net.JoinHostPort("127.0.0.1", freePort(t, "127.0.0.1"))
	cfg, _ := healConfig(t, "a", pa, pb)
	cfg.BindAddr = pa
	a := start(t, cfg) // B does not run: A starts the mesh
	cfg, _ = healConfig(t, "c", pa)
	c := start(t, cfg)
	cfg, _ = healConfig(t, "b", pb) // its own address only: B starts alone
	cfg.BindAddr = pb
	b := start(t, cfg)
	cfg, _ = healConfig(t, "d", pb)
	d := start(t, cfg)
	if !waitFor(t, 10*time.Second, func() bool { return converged(a, b, c, d) }) {
		t.Fatalf("the groups never met: a sees %v, b sees %v", names(a.Members()), names(b.Members()))
	}
	if a.Stats().Reconnects == 0 {
		t.Error("the groups met without a reconnect counted")
	}
}

// TestHealerIdleRoundAllocatesNothing checks the check a healthy member
// runs every interval: nobody dead, every seed alive.
func TestHealerIdleRoundAllocatesNothing(t *testing.T) {
	var count atomic.Uint64
	h := newHealer(DefaultLocalTiming(), []string{"127.0.0.1:1", "127.0.0.1:2"}, discardLogger(), &count)
	defer h.shutdown()
	h.round(nil, map[string]bool{"127.0.0.1:1": true, "127.0.0.1:2": true})
	aliveAt := func(string) bool { return true }
	now := time.Now()
	if !h.idle(3, aliveAt, now) {
		t.Fatal("not idle with every seed alive and nobody dead")
	}
	if allocs := testing.AllocsPerRun(100, func() { h.idle(3, aliveAt, now) }); allocs != 0 {
		t.Errorf("an idle check allocates %v times, want 0", allocs)
	}
	// A seed missing is worked on until it has been missed for
	// ReconnectTimeout, then given up.
	missing := func(a string) bool { return a != "127.0.0.1:2" }
	if h.idle(3, missing, now) {
		t.Error("idle with a seed missing")
	}
	if h.idle(3, missing, now.Add(h.timeout)) {
		t.Error("idle with a seed missing for ReconnectTimeout")
	}
	if !h.idle(3, missing, now.Add(h.timeout+time.Second)) {
		t.Error("a seed missing for longer than ReconnectTimeout is still worked on")
	}
}

// TestHealerFollowsSeedNameRecords starts two groups whose seed name
// listed only their own first member when they started, as the records of
// a Kubernetes headless Service may: nothing is dead and every seed
// address is alive, yet once the name lists both, the groups meet.
func TestHealerFollowsSeedNameRecords(t *testing.T) {
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	var mu sync.Mutex
	records := map[string][]string{"seeds.weft.test": {"127.0.0.1"}, "other.weft.test": {"127.0.0.2"}}
	old := lookupHost
	lookupHost = func(_ context.Context, host string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return records[host], nil
	}
	t.Cleanup(func() { lookupHost = old })
	pa, pb := net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("127.0.0.2", port)

	cfg, _ := healConfig(t, "a", net.JoinHostPort("seeds.weft.test", port))
	cfg.BindAddr = pa
	a := start(t, cfg)
	cfg, _ = healConfig(t, "c", pa)
	c := start(t, cfg)
	cfg, _ = healConfig(t, "b", net.JoinHostPort("other.weft.test", port))
	cfg.BindAddr = pb
	b := start(t, cfg)
	cfg, _ = healConfig(t, "d", pb)
	d := start(t, cfg)
	if !waitFor(t, 10*time.Second, func() bool { return len(a.Members()) == 2 && len(b.Members()) == 2 }) {
		t.Fatalf("groups did not form: a sees %v, b sees %v", names(a.Members()), names(b.Members()))
	}
	resolved := func() bool {
		a.heal.seedMu.Lock()
		defer a.heal.seedMu.Unlock()
		return a.heal.seedAddrs != nil
	}
	if !waitFor(t, 10*time.Second, resolved) {
		t.Fatal("a's healer never resolved its seed")
	}
	if converged(a, b, c, d) {
		t.Fatal("the groups met before the name listed both")
	}

	mu.Lock()
	records["seeds.weft.test"] = []string{"127.0.0.1", "127.0.0.2"}
	mu.Unlock()
	if !waitFor(t, 20*time.Second, func() bool { return converged(a, b, c, d) }) {
		t.Fatalf("the groups never met: a sees %v, b sees %v", names(a.Members()), names(b.Members()))
	}
	if a.Stats().Reconnects == 0 {
		t.Error("the groups met without a reconnect counted")
	}
}

// TestHealerIdleMayMeetTheCatalogsCalls models the lock order between the
// healer and the catalog: idle asks the catalog whether a seed is alive,
// under the catalog's lock; the catalog, under the same lock, tells the
// healer of members that die and come back. Here the catalog's answer
// itself tells the healer of a member back and another dead, as a
// concurrent NotifyJoin would have while idle waited for the lock; idle
// must not hold a lock those calls need.
func TestHealerIdleMayMeetTheCatalogsCalls(t *testing.T) {
	var count atomic.Uint64
	h := newHealer(DefaultLocalTiming(), []string{"127.0.0.1:1"}, discardLogger(), &count)
	defer h.shutdown()
	h.round(nil, map[string]bool{"127.0.0.1:1": true})
	aliveAt := func(string) bool {
		h.back("b")
		h.died("c", "127.0.0.1:3", time.Now())
		return true
	}
	done := make(chan bool, 1)
	go func() { done <- h.idle(3, aliveAt, time.Now()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("idle deadlocked with the catalog's calls to died and back")
	}
	if h.idle(3, func(string) bool { return true }, time.Now()) {
		t.Error("idle with a member seen dead")
	}
}
