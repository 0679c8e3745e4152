package limit

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
)

// backend models a service with a fixed number of workers: up to knee
// requests are served in base time; beyond that they queue, and latency
// grows in proportion to the concurrency.
type backend struct {
	knee int
	base time.Duration
}

func (b backend) latency(n int) time.Duration {
	if n <= b.knee {
		return b.base
	}
	return b.base * time.Duration(n) / time.Duration(b.knee)
}

// simulate drives l with a closed loop of clients for the given span of
// simulated time: each round, clients try to start a request; the admitted
// ones all finish after the latency their number causes. drop, if not nil,
// says whether a request with that latency counts as dropped (timed out).
// It returns the adaptive limit after each round.
func simulate(l *Limiter, clk *clocktest.Clock, clients int, b backend, span time.Duration, drop func(time.Duration) bool) []int64 {
	var limits []int64
	tickets := make([]Ticket, 0, clients)
	for end := clk.Now().Add(span); clk.Now().Before(end); {
		tickets = tickets[:0]
		for range clients {
			tk, rej := l.Acquire("")
			if rej.Rejected() {
				break
			}
			tickets = append(tickets, tk)
		}
		lat := b.latency(len(tickets))
		clk.Advance(lat)
		dropped := drop != nil && drop(lat)
		for _, tk := range tickets {
			tk.Done(lat, dropped)
		}
		limits = append(limits, l.snap.Load().adaptive.current())
	}
	return limits
}

func mean(xs []int64) float64 {
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}

func last(xs []int64, n int) []int64 { return xs[len(xs)-min(n, len(xs)):] }

func TestGradientConvergesNearKnee(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Window: 100 * time.Millisecond, ProbeInterval: 10 * time.Second}}, WithClock(clk.Now))
	b := backend{knee: 50, base: 10 * time.Millisecond}
	limits := simulate(l, clk, 400, b, 30*time.Second, nil)
	tail := last(limits, 1000)
	m := mean(tail)
	t.Logf("mean limit over the last %d rounds: %.1f (knee %d)", len(tail), m, b.knee)
	if m < float64(b.knee) || m > 1.4*float64(b.knee) {
		t.Fatalf("limit settled at %.1f, want between the knee %d and 1.4× it", m, b.knee)
	}
}

func TestGradientGrowsToLargeKnee(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Window: 100 * time.Millisecond}}, WithClock(clk.Now))
	b := backend{knee: 200, base: 10 * time.Millisecond}
	limits := simulate(l, clk, 400, b, 12*time.Second, nil)
	if m := mean(last(limits, 300)); m < float64(b.knee) || m > 1.3*float64(b.knee) {
		t.Fatalf("limit settled at %.1f, want near the knee %d", m, b.knee)
	}
}

func TestGradientShrinksWhenLatencyJumpsThenRecovers(t *testing.T) {
	clk := newFakeClock()
	cfg := &AdaptiveConfig{Window: 100 * time.Millisecond, ProbeInterval: 30 * time.Second}
	l := mustNew(t, Config{AdaptiveConcurrency: cfg}, WithClock(clk.Now))
	b := backend{knee: 50, base: 10 * time.Millisecond}
	before := mean(last(simulate(l, clk, 400, b, 10*time.Second, nil), 200))

	// The backend becomes four times slower at every concurrency, with
	// the same number of workers: requests must queue less.
	slow := backend{knee: 50, base: 40 * time.Millisecond}
	limits := simulate(l, clk, 400, slow, time.Second, nil)
	after := float64(limits[len(limits)-1])
	t.Logf("limit before the jump %.1f, one second after %.0f", before, after)
	if after > before/2 {
		t.Fatalf("limit %.0f one second after latency quadrupled, want below half of %.1f", after, before)
	}

	// After the next probe the slower no-load latency is the reference
	// again, and the limit returns to the knee.
	limits = simulate(l, clk, 400, slow, 40*time.Second, nil)
	if m := mean(last(limits, 200)); m < float64(slow.knee) || m > 1.4*float64(slow.knee) {
		t.Fatalf("limit after recovery %.1f, want near the knee %d", m, slow.knee)
	}
}

func TestGradientIgnoresUnusedLimit(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Window: 100 * time.Millisecond}}, WithClock(clk.Now))
	// Five clients never use more than a quarter of the initial limit.
	limits := simulate(l, clk, 5, backend{knee: 1000, base: 10 * time.Millisecond}, 30*time.Second, nil)
	if got := limits[len(limits)-1]; got > 20 {
		t.Fatalf("limit grew to %d under a load of 5", got)
	}
}

func TestGradientProbeIgnoresEarlierRequests(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{}}, WithClock(clk.Now))
	a := l.snap.Load().adaptive
	if !a.probing || a.current() != 5 {
		t.Fatalf("a new gradient limit should probe at minLimit first; probing=%v limit=%d", a.probing, a.current())
	}
	stale := Ticket{l: l, a: a, epoch: a.epoch.Load() - 1}
	l.inFlight.Add(1)
	stale.Done(time.Hour, false)
	admit(l, "", probeSamples)
	if a.probing || a.noLoad != 1 {
		t.Fatalf("probe: probing=%v noLoad=%v, want done with no-load latency 1ns (samples of 0)", a.probing, a.noLoad)
	}
	if got := a.current(); got != 20 {
		t.Fatalf("limit after probe %d, want the initial 20", got)
	}
}

func TestAIMDConvergesNearKnee(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, Window: 100 * time.Millisecond}}, WithClock(clk.Now))
	b := backend{knee: 50, base: 10 * time.Millisecond}
	timeout := b.base * 5 / 4 // requests queued beyond 1.25× the knee time out
	limits := simulate(l, clk, 200, b, 30*time.Second, func(d time.Duration) bool { return d > timeout })
	m := mean(last(limits, 1000))
	t.Logf("AIMD mean limit %.1f (knee %d)", m, b.knee)
	if m < 0.8*float64(b.knee) || m > 1.3*float64(b.knee) {
		t.Fatalf("AIMD limit settled at %.1f, want near the knee %d", m, b.knee)
	}
}

func TestAIMDLatencyTarget(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{
		Algorithm: AIMD, Window: 100 * time.Millisecond, LatencyTarget: 12 * time.Millisecond,
	}}, WithClock(clk.Now))
	b := backend{knee: 50, base: 10 * time.Millisecond}
	m := mean(last(simulate(l, clk, 200, b, 30*time.Second, nil), 1000))
	if m < 0.8*float64(b.knee) || m > 1.3*float64(b.knee) {
		t.Fatalf("AIMD limit settled at %.1f, want near the knee %d", m, b.knee)
	}
}

func TestAdaptiveRejectsWith503(t *testing.T) {
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, InitialLimit: 3, MinLimit: 1}})
	for range 3 {
		if _, rej := l.Acquire(""); rej.Rejected() {
			t.Fatalf("rejected below the limit: %+v", rej)
		}
	}
	_, rej := l.Acquire("")
	if rej.Reason != Adaptive || rej.StatusCode() != 503 {
		t.Fatalf("got %+v, want Adaptive 503", rej)
	}
	if got := l.Stats().Rejected[Adaptive]; got != 1 {
		t.Fatalf("Rejected[Adaptive] = %d", got)
	}
}

func TestUpdateKeepsLearnedLimit(t *testing.T) {
	clk := newFakeClock()
	cfg := Config{AdaptiveConcurrency: &AdaptiveConfig{Window: 100 * time.Millisecond}}
	l := mustNew(t, cfg, WithClock(clk.Now))
	simulate(l, clk, 400, backend{knee: 100, base: 10 * time.Millisecond}, 20*time.Second, nil)
	learned := l.Stats().AdaptiveLimit
	if learned < 100 {
		t.Fatalf("learned limit %d, want at least the knee 100", learned)
	}
	// An unrelated change keeps the same adaptive state.
	cfg.MaxConcurrent = 1000
	if err := l.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().AdaptiveLimit; got != learned {
		t.Fatalf("limit %d after unrelated Update, want %d", got, learned)
	}
	// A new maxLimit below the learned value clamps it.
	cfg.AdaptiveConcurrency = &AdaptiveConfig{Window: 100 * time.Millisecond, MaxLimit: 60}
	if err := l.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().AdaptiveLimit; got != 60 {
		t.Fatalf("limit %d after maxLimit 60, want 60", got)
	}
}
