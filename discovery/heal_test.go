package discovery

import (
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
