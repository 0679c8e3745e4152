package peakewma_test

import (
	"github.com/weftmesh/weft/resilience/internal/pickertest"

	"errors"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/peakewma"
)

var start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// The client engine registers the balancer; so do its tests.
func init() { resilience.Register(peakewma.Balancer{}) }

func TestName(t *testing.T) {
	if peakewma.Name != "peak_ewma" {
		t.Errorf("Name = %q, want %q", peakewma.Name, "peak_ewma")
	}
	if err := (resilience.BalancerConfig{Name: peakewma.Name}).Validate(); err != nil {
		t.Errorf("BalancerConfig does not accept Name: %v", err)
	}
}

func TestPickEmptyAndSingle(t *testing.T) {
	for _, eps := range [][]*resilience.Endpoint{nil, {}} {
		if e, err := peakewma.New().Build(eps).Pick(resilience.PickInfo{}); !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
			t.Errorf("Pick on %d endpoints = %v, %v; want nil, ErrNoEndpoint", len(eps), e, err)
		}
	}
	eps := pickertest.Endpoints(1)
	pickertest.MarkDown(eps[0])
	if e := pickertest.MustPick(t, peakewma.New().Build(eps), eps, resilience.PickInfo{Avoid: eps[0]}); e != eps[0] {
		t.Fatalf("Pick = %v, want the only endpoint", e)
	}
}

// behaviour is how a simulated endpoint answers.
type behaviour struct {
	rtt    time.Duration
	failed bool
}

// simulate runs a closed loop on a fake clock: every millisecond, perTick
// requests are picked and started, and each ends after its endpoint's rtt
// with an observation. behave may change with time. It returns how many
// requests each endpoint received after warmup.
func simulate(t *testing.T, eps []*resilience.Endpoint, perTick int, duration, warmup time.Duration, behave func(i int, at time.Duration) behaviour) []int {
	t.Helper()
	clock := clocktest.New(start)
	p := peakewma.New(resilience.BuildOptions{Now: clock.Now}).Build(eps)
	type request struct {
		e      *resilience.Endpoint
		end    time.Duration
		failed bool
		rtt    time.Duration
	}
	var pending []request
	c := make([]int, len(eps))
	for at := time.Duration(0); at < duration; at += time.Millisecond {
		clock.Set(start.Add(at))
		kept := pending[:0]
		for _, r := range pending {
			if r.end <= at {
				r.e.End()
				r.e.ObserveAt(clock.Now(), r.rtt, r.failed)
			} else {
				kept = append(kept, r)
			}
		}
		pending = kept
		for range perTick {
			e := pickertest.MustPick(t, p, eps, resilience.PickInfo{})
			i := pickertest.IndexOf(eps, e)
			if at >= warmup {
				c[i]++
			}
			b := behave(i, at)
			e.Begin()
			pending = append(pending, request{e, at + b.rtt, b.failed, b.rtt})
		}
	}
	for _, r := range pending {
		r.e.End()
	}
	return c
}

func TestFastFailuresDoNotAttractTraffic(t *testing.T) {
	// Endpoint 0 answers 503 in 1 ms; endpoint 1 answers 200 in 20 ms.
	for _, perTick := range []int{1, 4} {
		eps := pickertest.Endpoints(2)
		c := simulate(t, eps, perTick, 60*time.Second, 0, func(i int, _ time.Duration) behaviour {
			if i == 0 {
				return behaviour{time.Millisecond, true}
			}
			return behaviour{20 * time.Millisecond, false}
		})
		total := c[0] + c[1]
		if share := float64(c[0]) / float64(total); share > 0.001 {
			t.Errorf("%d req/ms: the failing endpoint got %d of %d requests (%.3f%%), want almost none",
				perTick, c[0], total, 100*share)
		}
		if c[0] == 0 {
			t.Errorf("%d req/ms: the failing endpoint was never probed again", perTick)
		}
	}
}

func TestFasterEndpointGetsMore(t *testing.T) {
	rtts := []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond}
	eps := pickertest.Endpoints(3)
	c := simulate(t, eps, 2, 20*time.Second, time.Second, func(i int, _ time.Duration) behaviour {
		return behaviour{rtts[i], false}
	})
	if c[0] <= c[1] || c[1] <= c[2] {
		t.Errorf("requests by latency 5/20/80 ms: %v, want strictly decreasing", c)
	}
}

func TestRecoveredEndpointRegainsTraffic(t *testing.T) {
	// Endpoint 0 fails fast for 10 s, then answers in 5 ms: faster than
	// endpoint 1's 20 ms, so it must win back most of the traffic.
	eps := pickertest.Endpoints(2)
	c := simulate(t, eps, 1, 80*time.Second, 60*time.Second, func(i int, at time.Duration) behaviour {
		if i == 0 {
			if at < 10*time.Second {
				return behaviour{time.Millisecond, true}
			}
			return behaviour{5 * time.Millisecond, false}
		}
		return behaviour{20 * time.Millisecond, false}
	})
	if c[0] <= c[1] {
		t.Errorf("after recovery: requests %v, want most on the recovered, faster endpoint", c)
	}
}

func TestPickCost(t *testing.T) {
	clock := clocktest.New(start)
	tests := []struct {
		name     string
		rtt      [2]time.Duration // 0: never observed
		inFlight [2]int
		weight   [2]uint32
		want     int
	}{
		{"lower latency", [2]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, [2]int{0, 0}, [2]uint32{1, 1}, 0},
		{"load counts", [2]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, [2]int{3, 0}, [2]uint32{1, 1}, 1},
		{"weight divides", [2]time.Duration{30 * time.Millisecond, 20 * time.Millisecond}, [2]int{0, 0}, [2]uint32{2, 1}, 0},
		{"unmeasured and idle is tried", [2]time.Duration{0, time.Millisecond}, [2]int{0, 0}, [2]uint32{1, 1}, 0},
		{"unmeasured and busy waits", [2]time.Duration{0, 10 * time.Second}, [2]int{1, 5}, [2]uint32{1, 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(2)
			for i, e := range eps {
				if tt.rtt[i] > 0 {
					e.ObserveAt(start, tt.rtt[i], false)
				}
				e.Weight = tt.weight[i]
				for range tt.inFlight[i] {
					e.Begin()
				}
			}
			p := peakewma.New(resilience.BuildOptions{Now: clock.Now}).Build(eps)
			c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 100)
			if c[tt.want] != 100 {
				t.Errorf("counts %v, want all on endpoint %d", c, tt.want)
			}
		})
	}
}

func TestPickSlowStart(t *testing.T) {
	clock := clocktest.New(start)
	eps := pickertest.Endpoints(2)
	eps[0].ReadySince = start.Add(-time.Hour)
	eps[1].ReadySince = start
	for _, e := range eps {
		e.ObserveAt(start, 10*time.Millisecond, false)
	}
	for range 3 {
		eps[0].Begin() // cost 40 ms against the new one's 10 ms
	}
	p := peakewma.New(resilience.BuildOptions{SlowStart: 10 * time.Second, Now: clock.Now}).Build(eps)
	// At 10% weight the new endpoint costs 100 ms: it loses.
	if c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 50); c[0] != 50 {
		t.Errorf("new endpoint at 10%% weight: counts %v, want all on the old one", c)
	}
	clock.Advance(10 * time.Second)
	if c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 50); c[1] != 50 {
		t.Errorf("after the window: counts %v, want all on the idle new one", c)
	}
}

func TestPickSkipsUnusable(t *testing.T) {
	tests := []struct {
		name    string
		down    []int
		avoid   int
		allowed []int
	}{
		{"down despite fastest", []int{0}, -1, []int{1, 2, 3}},
		{"avoid despite fastest", nil, 0, []int{1, 2, 3}},
		{"only the avoided one is up", []int{0, 1, 2}, 3, []int{3}},
		{"all down: cheapest", []int{0, 1, 2, 3}, -1, []int{0}},
		{"all down, cheapest avoided", []int{0, 1, 2, 3}, 0, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(4)
			now := time.Now()
			for i, e := range eps {
				e.ObserveAt(now, time.Duration(i+1)*time.Millisecond, false)
			}
			for _, i := range tt.down {
				pickertest.MarkDown(eps[i])
			}
			var info resilience.PickInfo
			if tt.avoid >= 0 {
				info.Avoid = eps[tt.avoid]
			}
			p := peakewma.New().Build(eps)
			c := pickertest.Counts(t, p, eps, info, 2000)
			allowed := make([]bool, len(eps))
			for _, i := range tt.allowed {
				allowed[i] = true
			}
			for i, n := range c {
				if n > 0 && !allowed[i] {
					t.Errorf("endpoint %d picked %d times, want never: %v", i, n, c)
				}
			}
			if c[tt.allowed[0]] == 0 {
				t.Errorf("endpoint %d never picked: %v", tt.allowed[0], c)
			}
		})
	}
}

func TestPickConcurrent(t *testing.T) {
	eps := pickertest.Endpoints(6)
	p := peakewma.New().Build(eps)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				e, err := p.Pick(resilience.PickInfo{Avoid: eps[g%len(eps)]})
				if err != nil || pickertest.IndexOf(eps, e) < 0 {
					t.Errorf("Pick = %v, %v", e, err)
					return
				}
				e.Begin()
				if i%100 == 0 {
					pickertest.MarkDown(e)
					eps[(g+i)%len(eps)].MarkUp()
				}
				e.Observe(time.Duration(g+1)*time.Millisecond, i%7 == 0)
				e.End()
			}
		})
	}
	wg.Wait()
}

func TestPickDoesNotAllocate(t *testing.T) {
	clock := clocktest.New(start)
	for _, n := range []int{3, 100} {
		eps := pickertest.Endpoints(n)
		for i, e := range eps {
			e.Weight = uint32(i % 3)
			e.ReadySince = start.Add(-time.Duration(i) * time.Second)
			e.ObserveAt(start, time.Duration(i+1)*time.Millisecond, i%4 == 0)
		}
		p := peakewma.New(resilience.BuildOptions{SlowStart: time.Minute, Now: clock.Now}).Build(eps)
		for _, info := range []resilience.PickInfo{{}, {Avoid: eps[1]}} {
			if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Pick(info) }); allocs != 0 {
				t.Errorf("n=%d: Pick allocates %.1f times, want 0", n, allocs)
			}
		}
		for _, e := range eps {
			pickertest.MarkDown(e)
		}
		if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Pick(resilience.PickInfo{}) }); allocs != 0 {
			t.Errorf("n=%d all down: Pick allocates %.1f times, want 0", n, allocs)
		}
	}
}
