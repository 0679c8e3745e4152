package chaos

import (
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest"
)

// healTimeout bounds how long a mesh may take to be whole again after a
// partition heals. The goal is 10 s (with the LAN timing nodes on host
// addresses get: a reconnect round every 2 s, jittered); the bound leaves
// room for a loaded machine.
const healTimeout = 30 * time.Second

// TestPartitionHeals cuts one of three hosts off, then heals the link, and
// measures how long the mesh takes to be whole again: every node sees all
// three alive, and the load one node sends is spread over all three
// backends again.
func TestPartitionHeals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		oneWay bool // h2 reaches h0 and h1, they do not reach h2
		cut    time.Duration
	}{
		{"symmetric-12s", false, 12 * time.Second},
		{"one-way-12s", true, 12 * time.Second},
		{"symmetric-60s", false, 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := hosttest.New(t, 3)
			h0, h1, h2 := l.Host(0), l.Host(1), l.Host(2)
			p := l.StartMesh(nil, nil)
			tr := startTraffic(p[0], http.MethodGet, 20)
			awaitBalanced(t, tr, time.Now(), 30*time.Second, names(h0, h1, h2)...)

			cutAt := time.Now()
			if tc.oneWay {
				l.Block(h0, h2)
				l.Block(h1, h2)
			} else {
				l.Cut(h2)
			}
			// The partition must be noticed, or healing is not tested.
			detect, err := hosttest.Await(tc.cut, func() error {
				tr.collect()
				return notAlive(p[0], p[2].Node())
			})
			if err != nil {
				t.Fatalf("partition not noticed: %v", err)
			}
			figure(t, "partition."+tc.name+".detect", detect)
			if _, err := hosttest.Await(time.Until(cutAt.Add(tc.cut))+5*time.Second, func() error {
				tr.collect()
				return notAlive(p[1], p[2].Node())
			}); err != nil {
				t.Fatalf("partition not noticed by h1: %v", err)
			}
			// The partition lasts its whole duration.
			until(cutAt.Add(tc.cut), tr.collect)
			failedDuringCut := len(tr.failed())

			healAt := time.Now()
			if tc.oneWay {
				l.Unblock(h0, h2)
				l.Unblock(h1, h2)
			} else {
				l.Heal(h2)
			}
			whole, err := hosttest.Await(healTimeout, func() error {
				tr.collect()
				return hosttest.Converged(p, "echo")
			})
			if err != nil {
				t.Fatalf("mesh not whole %v after the heal (goal 10s): %v", healTimeout, err)
			}
			awaitBalanced(t, tr, healAt, healTimeout, names(h0, h1, h2)...)
			// The first window of load that was balanced began this long
			// after the heal.
			balanced := max(time.Since(healAt)-balanceWindow, 0)
			tr.stop()
			var back time.Duration
			for _, o := range tr.all {
				if o.OK() && o.Backend == h2.Name && o.Start.After(healAt) {
					back = o.End.Sub(healAt)
					break
				}
			}
			figure(t, "partition."+tc.name+".members_whole", whole)
			figure(t, "partition."+tc.name+".first_request_to_healed_host", back)
			figure(t, "partition."+tc.name+".balanced", balanced)
			figure(t, "partition."+tc.name+".failed_requests", failedDuringCut)
			if failed := tr.failed(); len(failed) > 0 {
				t.Logf("failed requests: %s", errorsOf(failed))
			}
		})
	}
}
