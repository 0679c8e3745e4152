package chaos

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest"
)

// watchMembers polls, every tenth of a second until end, how each of
// watchers sees each of watched, and returns how many polls found one
// suspect and the first time one was seen dead or left, if any.
func watchMembers(watchers, watched []*hosttest.Proc, end time.Time, also func()) (suspects int, removed error) {
	until(end, func() {
		if also != nil {
			also()
		}
		for _, w := range watchers {
			for _, m := range watched {
				if w == m {
					continue
				}
				s, err := statusOf(w, m.Node())
				switch {
				case err != nil:
					if removed == nil {
						removed = err
					}
				case s == "suspect":
					suspects++
				case s != "alive" && removed == nil:
					removed = fmt.Errorf("%s sees %s (%s) %s", w.Host(), m.Node(), m.Host(), s)
				}
			}
		}
	})
	return suspects, removed
}

// TestGossipUnderLossAndDelay runs four nodes whose gossip loses 5% of its
// packets, in each direction, and is delayed by 50 ms, in each direction:
// for 20 s no member may be taken for dead. Then a fifth node, with the
// same faults, joins; the time until every node sees it is logged.
func TestGossipUnderLossAndDelay(t *testing.T) {
	// Not parallel: other tests' load would add their own delays.
	const (
		loss  = 0.05
		delay = 50 * time.Millisecond
	)
	l := hosttest.New(t, 5)
	p := l.StartMesh(l.Hosts()[:4], nil)
	for _, proc := range p {
		proc.SetFaults(loss, delay)
	}
	suspects, removed := watchMembers(p, p, time.Now().Add(20*time.Second), nil)
	figure(t, "gossip_loss_delay.suspect_observations", suspects)
	if removed != nil {
		t.Errorf("with %.0f%% loss and %v delay: %v", loss*100, delay, removed)
	}

	var seeds []string
	for _, h := range l.Hosts()[:4] {
		seeds = append(seeds, h.GossipAddr())
	}
	start := time.Now()
	p = append(p, l.Host(4).StartNode(hosttest.NodeConfig{Join: seeds, GossipLoss: loss, GossipDelay: delay}))
	joined := time.Since(start)
	if _, err := hosttest.Await(60*time.Second, func() error { return hosttest.Converged(p, "echo") }); err != nil {
		t.Fatalf("the new member is not seen by all: %v", err)
	}
	figure(t, "gossip_loss_delay.new_member_join", joined)
	figure(t, "gossip_loss_delay.new_member_converged", time.Since(start))
}

// TestSeedNeverComesBack kills the seed two nodes joined through and takes
// its host off the network for good: the two keep serving each other, and
// a new node given the dead seed first and a live member second joins.
func TestSeedNeverComesBack(t *testing.T) {
	t.Parallel()
	l := hosttest.New(t, 4)
	h0, h1, h2, h3 := l.Host(0), l.Host(1), l.Host(2), l.Host(3)
	seed := h0.StartNode(hosttest.NodeConfig{})
	p1 := h1.StartNode(hosttest.NodeConfig{Join: []string{h0.GossipAddr()}})
	p2 := h2.StartNode(hosttest.NodeConfig{Join: []string{h0.GossipAddr()}})
	if _, err := hosttest.Await(30*time.Second, func() error { return hosttest.Converged([]*hosttest.Proc{seed, p1, p2}, "echo") }); err != nil {
		t.Fatal(err)
	}
	tr := startTraffic(p1, http.MethodGet, 20)
	awaitBalanced(t, tr, time.Now(), 30*time.Second, names(h0, h1, h2)...)

	seed.Kill()
	l.Cut(h0)
	survivors := []*hosttest.Proc{p1, p2}
	removed, err := hosttest.Await(30*time.Second, func() error {
		tr.collect()
		return hosttest.Converged(survivors, "echo")
	})
	if err != nil {
		t.Fatalf("the survivors do not drop the dead seed: %v", err)
	}
	figure(t, "seed_gone.removed", removed)
	// While they keep trying to re-join the seed, they serve each other.
	since := time.Now()
	awaitBalanced(t, tr, since, 30*time.Second, names(h1, h2)...)
	until(time.Now().Add(5*time.Second), tr.collect)
	for _, o := range tr.all {
		if !o.OK() && o.Start.After(since) {
			t.Errorf("request %s failed after the dead seed was dropped: %d %s", o.ID, o.Status, o.Err)
		}
	}

	start := time.Now()
	p3 := h3.StartNode(hosttest.NodeConfig{Join: []string{h0.GossipAddr(), h1.GossipAddr()}})
	figure(t, "seed_gone.new_member_join", time.Since(start))
	if _, err := hosttest.Await(30*time.Second, func() error {
		tr.collect()
		return hosttest.Converged(append(survivors, p3), "echo")
	}); err != nil {
		t.Fatalf("the new member is not seen by all: %v", err)
	}
	figure(t, "seed_gone.new_member_converged", time.Since(start))
	awaitBalanced(t, tr, start, 30*time.Second, names(h1, h2, h3)...)
	tr.stop()
}

// TestBusyMemberNotDeclaredDead keeps one node's CPUs busy for 8 s: no
// other member may take it for dead.
func TestBusyMemberNotDeclaredDead(t *testing.T) {
	// Not parallel: the busy node takes every CPU of the machine.
	const busy = 8 * time.Second
	l := hosttest.New(t, 3)
	p := l.StartMesh(nil, nil)
	tr := startTraffic(p[0], http.MethodGet, 20)
	awaitBalanced(t, tr, time.Now(), 30*time.Second, names(l.Hosts()...)...)
	type result struct {
		cpu time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), busy+30*time.Second)
		defer cancel()
		cpu, err := p[2].Busy(ctx, busy)
		done <- result{cpu, err}
	}()
	suspects, removed := watchMembers(p[:2], p[2:], time.Now().Add(busy+3*time.Second), tr.collect)
	r := <-done // within Busy's deadline
	if r.err != nil {
		t.Fatal(r.err)
	}
	cores := r.cpu.Seconds() / busy.Seconds()
	figure(t, "busy.cores_used", fmt.Sprintf("%.1f", cores))
	figure(t, "busy.suspect_observations", suspects)
	// Busy means busy: at least half a core all along, else the test
	// shows nothing.
	if cores < 0.5 {
		t.Errorf("the busy node used %.2f cores", cores)
	}
	if removed != nil {
		t.Errorf("a busy member was taken for dead: %v", removed)
	}
	tr.stop()
	figure(t, "busy.failed_requests", len(tr.failed()))
	if failed := tr.failed(); len(failed) > 0 {
		t.Logf("failed requests: %s", errorsOf(failed))
	}
}
