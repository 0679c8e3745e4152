package route_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weftmesh/weft/transport/route"
)

func TestFaultPercentages(t *testing.T) {
	tests := []struct {
		name              string
		fault             route.Fault
		wantDelay, wantAb float64 // percent
	}{
		{"delay 10, abort 5", route.Fault{
			Delay: &route.FaultDelay{Duration: 100 * time.Millisecond, Percent: 10},
			Abort: &route.FaultAbort{Status: 503, Percent: 5},
		}, 10, 5},
		{"delay only, 50", route.Fault{Delay: &route.FaultDelay{Duration: time.Second, Percent: 50}}, 50, 0},
		{"abort only, 0.5", route.Fault{Abort: &route.FaultAbort{Status: 429, Percent: 0.5}}, 0, 0.5},
		{"always", route.Fault{
			Delay: &route.FaultDelay{Duration: time.Millisecond, Percent: 100},
			Abort: &route.FaultAbort{Status: 500, Percent: 100},
		}, 100, 100},
		{"never", route.Fault{
			Delay: &route.FaultDelay{Duration: time.Millisecond, Percent: 0},
			Abort: &route.FaultAbort{Status: 500, Percent: 0},
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fault
			rt := mustCompile(t, nil, route.Route{Fault: &f}).Route(0)
			rng := rand.New(rand.NewPCG(5, 6))
			const n = 10_000
			var delayed, aborted int
			for range n {
				d, s := rt.Fault(rng.Float64)
				if d != 0 {
					delayed++
					if d != f.Delay.Duration {
						t.Fatalf("delay = %v, want %v", d, f.Delay.Duration)
					}
				}
				if s != 0 {
					aborted++
					if s != f.Abort.Status {
						t.Fatalf("abort status = %d, want %d", s, f.Abort.Status)
					}
				}
			}
			check := func(what string, count int, want float64) {
				got := 100 * float64(count) / n
				if want == 0 || want == 100 {
					if got != want {
						t.Errorf("%s %.2f%% of requests, want exactly %.0f%%", what, got, want)
					}
					return
				}
				if math.Abs(got-want) > 3 {
					t.Errorf("%s %.2f%% of requests, want %.1f%% ± 3", what, got, want)
				}
			}
			check("delayed", delayed, tt.wantDelay)
			check("aborted", aborted, tt.wantAb)
		})
	}
}

func TestFaultDecisionsAreIndependent(t *testing.T) {
	// With a fixed sequence of draws the first decides the delay and the
	// second the abort.
	rt := mustCompile(t, nil, route.Route{Fault: &route.Fault{
		Delay: &route.FaultDelay{Duration: time.Second, Percent: 50},
		Abort: &route.FaultAbort{Status: 503, Percent: 50},
	}}).Route(0)
	seq := func(vals ...float64) func() float64 {
		return func() float64 { v := vals[0]; vals = vals[1:]; return v }
	}
	tests := []struct {
		draws     []float64
		delay     time.Duration
		abortCode int
	}{
		{[]float64{0.1, 0.9}, time.Second, 0},
		{[]float64{0.9, 0.1}, 0, 503},
		{[]float64{0.1, 0.1}, time.Second, 503},
		{[]float64{0.5, 0.5}, 0, 0}, // the share is a strict upper bound
	}
	for _, tt := range tests {
		d, s := rt.Fault(seq(tt.draws...))
		if d != tt.delay || s != tt.abortCode {
			t.Errorf("draws %v: Fault = (%v, %d), want (%v, %d)", tt.draws, d, s, tt.delay, tt.abortCode)
		}
	}
}

func TestNoFault(t *testing.T) {
	calls := 0
	count := func() float64 { calls++; return 0 }
	var none *route.CompiledRoute
	plain := mustCompile(t, nil, route.Route{}).Route(0)
	for _, rt := range []*route.CompiledRoute{none, plain} {
		if d, s := rt.Fault(count); d != 0 || s != 0 {
			t.Errorf("Fault = (%v, %d), want none", d, s)
		}
		if got := rt.MirrorSubset(count); got != "" {
			t.Errorf("MirrorSubset = %q, want none", got)
		}
	}
	if calls != 0 {
		t.Errorf("rnd called %d times for a route without faults or mirror, want 0", calls)
	}
}

func TestFaultNilRandom(t *testing.T) {
	rt := mustCompile(t, versions, route.Route{
		Fault:  &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: 100}},
		Mirror: &route.Mirror{Subset: "v2", Percent: 100},
	}).Route(0)
	if _, s := rt.Fault(nil); s != 503 {
		t.Errorf("Fault(nil) abort = %d, want 503", s)
	}
	if got := rt.MirrorSubset(nil); got != "v2" {
		t.Errorf("MirrorSubset(nil) = %q, want v2", got)
	}
}

func TestMirrorPercent(t *testing.T) {
	rt := mustCompile(t, versions, route.Route{To: map[string]int{"v1": 1}, Mirror: &route.Mirror{Subset: "v2", Percent: 20}}).Route(0)
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 10_000
	mirrored := 0
	for range n {
		switch rt.MirrorSubset(rng.Float64) {
		case "v2":
			mirrored++
		case "":
		default:
			t.Fatal("mirrored to a subset other than v2")
		}
	}
	if got := 100 * float64(mirrored) / n; math.Abs(got-20) > 3 {
		t.Errorf("mirrored %.2f%%, want 20%% ± 3", got)
	}
}

func TestFaultDoesNotAllocate(t *testing.T) {
	rt := mustCompile(t, versions, route.Route{
		Fault:  &route.Fault{Delay: &route.FaultDelay{Duration: time.Millisecond, Percent: 30}, Abort: &route.FaultAbort{Status: 503, Percent: 30}},
		Mirror: &route.Mirror{Subset: "v2", Percent: 30},
	}).Route(0)
	rng := rand.New(rand.NewPCG(9, 10))
	rnd := rng.Float64
	if allocs := testing.AllocsPerRun(100, func() { rt.Fault(rnd); rt.MirrorSubset(rnd) }); allocs != 0 {
		t.Errorf("Fault and MirrorSubset allocate %v times, want 0", allocs)
	}
}

func TestRouteSettings(t *testing.T) {
	tbl := mustCompile(t, nil,
		route.Route{Name: "slow", Match: route.Match{Path: "/report"}, Timeout: 30 * time.Second, Idempotent: true},
		route.Route{Name: "rest"},
	)
	slow, rest := tbl.Route(0), tbl.Route(1)
	if slow.Timeout() != 30*time.Second || rest.Timeout() != 0 {
		t.Errorf("Timeout() = %v, %v; want 30s, 0", slow.Timeout(), rest.Timeout())
	}
	if !slow.Config().Idempotent || rest.Config().Idempotent {
		t.Errorf("Config().Idempotent = %v, %v; want true, false", slow.Config().Idempotent, rest.Config().Idempotent)
	}
	var none *route.CompiledRoute
	if none.Config().Idempotent || none.Timeout() != 0 || none.Index() != -1 || none.Name() != "" {
		t.Error("nil route: unexpected settings")
	}
	if got := slow.Config().Name; got != "slow" {
		t.Errorf("Config().Name = %q", got)
	}
	if tbl.Route(2) != nil || tbl.Route(-1) != nil || tbl.Len() != 2 {
		t.Error("Route out of range or Len wrong")
	}
}
