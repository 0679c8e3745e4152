package chaos

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest"
	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// servedOnce fails the test for every request ID the procs' backends
// served more than once, together or apart, and returns how many IDs
// were served.
func servedOnce(t *testing.T, procs ...*hosttest.Proc) int {
	t.Helper()
	by := map[string][]string{}
	for _, p := range procs {
		for _, id := range p.Served() {
			by[id] = append(by[id], p.Host().Name)
		}
	}
	for id, hosts := range by {
		if len(hosts) > 1 {
			t.Errorf("request %s served %d times, by %s", id, len(hosts), strings.Join(hosts, ", "))
		}
	}
	return len(by)
}

// TestBackendCrashUnderLoad kills one of four backends with SIGKILL while
// a node sends them POSTs, which Weft never sends twice. No request may be
// served twice; the only requests that may fail are those the dead
// backend was working on when it died; and the client must stop trying
// the dead backend soon (goal: 1 s after the kill).
func TestBackendCrashUnderLoad(t *testing.T) {
	t.Parallel()
	l := hosttest.New(t, 4)
	h3 := l.Host(3)
	// Each request takes 200 ms, so that the victim has a few in hand.
	p := l.StartMesh(nil, func(_ *hosttest.Host, cfg *hosttest.NodeConfig) { cfg.Work = 200 * time.Millisecond })
	tr := startTraffic(p[0], http.MethodPost, 40)
	awaitBalanced(t, tr, time.Now(), 30*time.Second, names(l.Hosts()...)...)
	until(time.Now().Add(2*time.Second), tr.collect)

	killAt := time.Now()
	p[3].Kill()
	dead := time.Now()
	if _, err := hosttest.Await(30*time.Second, func() error {
		tr.collect()
		return notAlive(p[0], p[3].Node())
	}); err != nil {
		t.Fatalf("the killed backend is still a member: %v", err)
	}
	removed := time.Since(killAt)
	// Load goes on a while after the member is gone.
	until(time.Now().Add(3*time.Second), tr.collect)
	tr.stop()

	served := servedOnce(t, p...)
	victim := h3.Addr(hosttest.HTTPPort)
	var lastTry time.Time
	retried, triedDead := 0, 0
	for _, o := range tr.all {
		for _, try := range o.Tries {
			if try.Endpoint != victim {
				continue
			}
			if try.Start.After(lastTry) {
				lastTry = try.Start
			}
			if try.Start.After(dead) {
				triedDead++
			}
		}
		if !o.OK() {
			if !inFlightOn(o, victim, dead) {
				t.Errorf("request %s failed but was not in flight on %s when it died (tries %+v): %d %s", o.ID, h3, o.Tries, o.Status, o.Err)
			}
			continue
		}
		if len(o.Tries) > 1 {
			retried++
		}
	}
	lastPick := max(lastTry.Sub(killAt), 0)
	figure(t, "crash.last_pick_of_dead_backend", lastPick)
	figure(t, "crash.tries_on_dead_backend", triedDead)
	figure(t, "crash.member_removed", removed)
	figure(t, "crash.failed_requests", len(tr.failed()))
	figure(t, "crash.requests_retried", retried)
	figure(t, "crash.requests", len(tr.all))
	t.Logf("%d requests, %d IDs served; failed: %s", len(tr.all), served, errorsOf(tr.failed()))
	// The goal is 1 s: the first refused attempt keeps the endpoint out
	// of picking. The bound allows for a loaded machine, and stays below
	// gossip's verdict, so that the picks end before the member is gone.
	if lastPick > min(5*time.Second, removed) {
		t.Errorf("the dead backend was still tried %v after the kill (its member was removed after %v)", lastPick, removed)
	}
	if triedDead > 3 {
		t.Errorf("%d attempts went to the dead backend; after the first refusal it may not be picked", triedDead)
	}
}

// inFlightOn reports whether o had an attempt on endpoint that began
// before dead (when the backend was gone) and ended after it.
func inFlightOn(o nodeapi.Outcome, endpoint string, dead time.Time) bool {
	for _, try := range o.Tries {
		if try.Endpoint == endpoint && try.Start.Before(dead) {
			return true
		}
	}
	return false
}
