package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest"
	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// figure logs one measured value in the form docs/RELIABILITY.md quotes.
func figure(t *testing.T, name string, value any) {
	t.Helper()
	if d, ok := value.(time.Duration); ok {
		value = fmt.Sprintf("%.1fs", d.Seconds())
	}
	t.Logf("figure: %s=%v", name, value)
}

// traffic is a load a node sends, with every outcome collected so far.
type traffic struct {
	from *hosttest.Proc
	all  []nodeapi.Outcome
}

// startTraffic starts an open-loop load of rate requests per second from p
// to service echo.
func startTraffic(p *hosttest.Proc, method string, rate float64) *traffic {
	p.StartLoad(nodeapi.LoadSpec{Service: "echo", Rate: rate, Method: method})
	return &traffic{from: p}
}

// collect adds the outcomes that ended since the last collect.
func (tr *traffic) collect() { tr.all = append(tr.all, tr.from.Outcomes()...) }

// stop stops the load and collects the rest.
func (tr *traffic) stop() { tr.all = append(tr.all, tr.from.StopLoad()...) }

// balanceWindow is how much of the latest traffic balanced judges.
const balanceWindow = 3 * time.Second

// balanced collects, then returns nil when the requests started after
// since, in the latest balanceWindow of them, were all answered and
// spread over exactly the backends named, each with at least a quarter of
// its fair share; else what is off.
func (tr *traffic) balanced(since time.Time, backends ...string) error {
	tr.collect()
	var recent []nodeapi.Outcome
	latest := since
	for _, o := range tr.all {
		if o.Start.After(latest) {
			latest = o.Start
		}
	}
	from := latest.Add(-balanceWindow)
	if from.Before(since) {
		return fmt.Errorf("less than %v of requests since %s", balanceWindow, since.Format("15:04:05.000"))
	}
	count := map[string]int{}
	failed := 0
	for _, o := range tr.all {
		if o.Start.After(from) {
			recent = append(recent, o)
			if o.OK() {
				count[o.Backend]++
			} else {
				failed++
			}
		}
	}
	fair := len(recent) / len(backends)
	for b := range count {
		if !slices.Contains(backends, b) {
			return fmt.Errorf("backend %s answered; want only %v (by backend %v)", b, backends, count)
		}
	}
	for _, b := range backends {
		if count[b] < fair/4 || count[b] == 0 {
			return fmt.Errorf("%d requests in the last %v, %d failed; by backend %v: want each of %v to answer at least %d", len(recent), balanceWindow, failed, count, backends, max(fair/4, 1))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of the last %d requests failed", failed, len(recent))
	}
	return nil
}

// failed returns the outcomes collected so far that failed.
func (tr *traffic) failed() []nodeapi.Outcome {
	var out []nodeapi.Outcome
	for _, o := range tr.all {
		if !o.OK() {
			out = append(out, o)
		}
	}
	return out
}

// awaitBalanced waits until tr is balanced over backends since since,
// failing the test after timeout, and returns how long that took.
func awaitBalanced(t *testing.T, tr *traffic, since time.Time, timeout time.Duration, backends ...string) time.Duration {
	t.Helper()
	took, err := hosttest.Await(timeout, func() error { return tr.balanced(since, backends...) })
	if err != nil {
		t.Fatalf("load from %s not balanced: %v", tr.from.Host(), err)
	}
	return took
}

// names returns the hosts' names.
func names(hosts ...*hosttest.Host) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name)
	}
	return out
}

// statusOf returns how p sees the member node: "alive", "suspect",
// "dead", "left", or "unknown" when p does not know it.
func statusOf(p *hosttest.Proc, node string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Members(ctx)
	if err != nil {
		return "", err
	}
	for _, mem := range m.Members {
		if mem.Name == node {
			return mem.Status, nil
		}
	}
	return "unknown", nil
}

// notAlive returns nil once p no longer sees node alive.
func notAlive(p *hosttest.Proc, node string) error {
	s, err := statusOf(p, node)
	if err != nil {
		return err
	}
	if s == "alive" || s == "suspect" {
		return fmt.Errorf("%s still sees %s %s", p.Host(), node, s)
	}
	return nil
}

// errorsOf summarises failed outcomes: how many failed with each error.
func errorsOf(failed []nodeapi.Outcome) string {
	count := map[string]int{}
	for _, o := range failed {
		e := o.Err
		if e == "" {
			e = fmt.Sprint(o.Status)
		}
		count[e]++
	}
	var parts []string
	for e, n := range count {
		parts = append(parts, fmt.Sprintf("%d× %s", n, e))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// until calls every, every tenth of a second, until t: what a test does
// while a fault it set up lasts.
func until(t time.Time, every func()) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.NewTimer(time.Until(t))
	defer end.Stop()
	for {
		select {
		case <-end.C:
			return
		case <-tick.C:
			every()
		}
	}
}
