package chaos

import (
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest"
)

// TestRollingRestartUnderLoad restarts three of four backends one after
// the other, each with a graceful shutdown, while the fourth sends them
// POSTs: no request may fail or be served twice.
func TestRollingRestartUnderLoad(t *testing.T) {
	t.Parallel()
	l := hosttest.New(t, 4)
	p := l.StartMesh(nil, func(_ *hosttest.Host, cfg *hosttest.NodeConfig) { cfg.Work = 20 * time.Millisecond })
	all := names(l.Hosts()...)
	tr := startTraffic(p[0], http.MethodPost, 40)
	awaitBalanced(t, tr, time.Now(), 30*time.Second, all...)

	gone := []*hosttest.Proc{} // the processes restarted, for their served logs
	for i := 1; i < len(p); i++ {
		h := l.Host(i)
		start := time.Now()
		p[i].Shutdown()
		gone = append(gone, p[i])
		var seeds []string
		for _, other := range l.Hosts() {
			if other != h {
				seeds = append(seeds, other.GossipAddr())
			}
		}
		p[i] = h.StartNode(hosttest.NodeConfig{Join: seeds, Work: 20 * time.Millisecond})
		if _, err := hosttest.Await(30*time.Second, func() error {
			tr.collect()
			return hosttest.Converged(p, "echo")
		}); err != nil {
			t.Fatalf("after %s restarted: %v", h, err)
		}
		// From the shutdown's start to every node sending to the new one.
		figure(t, "rolling_restart."+h.Name+".back_in_mesh", time.Since(start))
		awaitBalanced(t, tr, start, 30*time.Second, all...)
	}
	tr.stop()
	servedOnce(t, append(gone, p...)...)
	figure(t, "rolling_restart.requests", len(tr.all))
	figure(t, "rolling_restart.failed_requests", len(tr.failed()))
	if failed := tr.failed(); len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %s", len(failed), len(tr.all), errorsOf(failed))
	}
}
