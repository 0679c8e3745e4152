package discovery

import (
	"context"
	"testing"
	"time"
)

// stateSeenBy reports whether every member in ms sees node in state.
func stateSeenBy(service, node string, state State, ms ...*Membership) bool {
	for _, m := range ms {
		in := find(m.View(), service, node)
		if in == nil || in.State != state {
			return false
		}
	}
	return true
}

func TestUpdatePropagatesQuickly(t *testing.T) {
	ms := cluster(t, "alpha", "beta", "gamma")
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	g := ms[2]
	begin := time.Now()
	if err := g.Update(func(in *Instance) { in.State = StateReady; in.Weight = 5 }); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, time.Second, func() bool { return stateSeenBy("gamma", g.Name(), StateReady, ms...) }) {
		t.Fatal("ready did not reach the others within 1s")
	}
	t.Logf("ready reached all members in %v", time.Since(begin))

	begin = time.Now()
	if err := g.Update(func(in *Instance) { in.State = StateDraining }); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, time.Second, func() bool { return stateSeenBy("gamma", g.Name(), StateDraining, ms...) }) {
		t.Fatal("draining did not reach the others within 1s")
	}
	t.Logf("draining reached all members in %v", time.Since(begin))
	// The full entry follows: weight and seq match the owner's.
	if !waitFor(t, 2*time.Second, func() bool {
		for _, m := range ms[:2] {
			in := find(m.View(), "gamma", g.Name())
			if in == nil || in.Seq != 3 || in.Weight != 5 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("full entry did not follow: %+v", find(ms[0].View(), "gamma", g.Name()))
	}
	if g.Local().Seq != 3 {
		t.Errorf("local Seq = %d, want 3", g.Local().Seq)
	}
}

func TestLeaveRemovesEntryAtOnce(t *testing.T) {
	ms := cluster(t, "alpha", "beta", "gamma")
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	g := ms[2]
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	begin := time.Now()
	if err := g.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	left := time.Since(begin)
	if !waitFor(t, 500*time.Millisecond, func() bool {
		return !ms[0].View().Has("gamma") && !ms[1].View().Has("gamma")
	}) {
		t.Fatal("entry still visible after Leave")
	}
	t.Logf("Leave took %v; entry gone on all members %v after it began", left, time.Since(begin))
	if !waitFor(t, 2*time.Second, func() bool {
		for _, m := range ms[:2] {
			if st := memberStatus(m, g.Name()); st != StatusLeft {
				return false
			}
		}
		return true
	}) {
		t.Errorf("members: %+v", ms[0].Members())
	}
}

func memberStatus(m *Membership, name string) Status {
	for _, mem := range m.Members() {
		if mem.Name == name {
			return mem.Status
		}
	}
	return 0
}

func TestCloseDetectedByProbing(t *testing.T) {
	ms := cluster(t, "alpha", "beta", "gamma")
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	g := ms[2]
	begin := time.Now()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	suspected := false
	if !waitFor(t, 10*time.Second, func() bool {
		for _, m := range ms[:2] {
			if memberStatus(m, g.Name()) == StatusSuspect {
				suspected = true
				if !m.View().Has("gamma") {
					t.Error("suspect member left the view before it was declared dead")
				}
			}
		}
		return !ms[0].View().Has("gamma") && !ms[1].View().Has("gamma")
	}) {
		t.Fatal("closed member still visible")
	}
	t.Logf("failure detected in %v", time.Since(begin))
	if !suspected {
		t.Error("no survivor reported the closed member as suspect first")
	}
	for _, m := range ms[:2] {
		if st := memberStatus(m, g.Name()); st != StatusDead {
			t.Errorf("%s sees %s as %v, want dead", m.Name(), g.Name(), st)
		}
		if m.Stats().Members != 2 {
			t.Errorf("%s: %d members", m.Name(), m.Stats().Members)
		}
	}

	// A stale broadcast about the dead member does not bring it back,
	// even with a higher Seq.
	stale := g.Local()
	stale.Seq += 10
	stale.State = StateReady
	wire, err := encodeEntry(stale)
	if err != nil {
		t.Fatal(err)
	}
	ms[0].del.NotifyMsg(wire)
	ms[0].del.MergeRemoteState(encodeState([][]byte{wire}), false)
	if ms[0].View().Has("gamma") {
		t.Fatal("stale broadcast resurrected a dead member")
	}
	// And the survivors still work together.
	if err := ms[1].Update(func(in *Instance) { in.State = StateReady }); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 2*time.Second, func() bool { return stateSeenBy("beta", ms[1].Name(), StateReady, ms[0]) }) {
		t.Fatal("update after failure did not propagate")
	}
}

// TestLocalPresetTiming checks the loopback preset itself (Timing left
// zero): an update reaches the others well under a second, and an
// abruptly closed member is detected within a few seconds.
func TestLocalPresetTiming(t *testing.T) {
	var ms []*Membership
	for i, s := range []string{"alpha", "beta", "gamma"} {
		cfg := testConfig(t, s)
		cfg.Timing = Timing{}
		if i > 0 {
			cfg.Join = []string{ms[0].Addr()}
		}
		ms = append(ms, start(t, cfg))
	}
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		t.Fatal("no convergence")
	}
	g := ms[2]
	begin := time.Now()
	if err := g.Update(func(in *Instance) { in.State = StateDraining }); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 900*time.Millisecond, func() bool { return stateSeenBy("gamma", g.Name(), StateDraining, ms...) }) {
		t.Fatal("draining took more than 900ms with the local preset")
	}
	t.Logf("draining reached all members in %v", time.Since(begin))

	begin = time.Now()
	g.Close()
	if !waitFor(t, 5*time.Second, func() bool {
		return !ms[0].View().Has("gamma") && !ms[1].View().Has("gamma")
	}) {
		t.Fatal("closed member still visible after 5s with the local preset")
	}
	t.Logf("failure detected in %v", time.Since(begin))
}
