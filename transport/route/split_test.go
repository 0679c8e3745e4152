package route_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/weftmesh/weft/transport/route"
)

// shares picks n times and returns the share of each subset, in percent.
func shares(rt *route.CompiledRoute, n int, rng *rand.Rand) map[string]float64 {
	counts := map[string]int{}
	for range n {
		counts[rt.PickSubset(rng.Uint64())]++
	}
	out := make(map[string]float64, len(counts))
	for k, c := range counts {
		out[k] = 100 * float64(c) / float64(n)
	}
	return out
}

func TestPickSubsetSplit(t *testing.T) {
	tests := []struct {
		name string
		to   map[string]int
		want map[string]float64
	}{
		{"90/10", map[string]int{"v1": 90, "v2": 10}, map[string]float64{"v1": 90, "v2": 10}},
		{"weights need not sum to 100", map[string]int{"v1": 1, "v2": 3}, map[string]float64{"v1": 25, "v2": 75}},
		{"zero weight gets nothing", map[string]int{"v1": 7, "v2": 0}, map[string]float64{"v1": 100}},
		{"three ways", map[string]int{"v1": 50, "v2": 30, "v3": 20}, map[string]float64{"v1": 50, "v2": 30, "v3": 20}},
	}
	subsets := map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}, "v3": {Version: "v3"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := mustCompile(t, subsets, route.Route{To: tt.to}).Route(0)
			got := shares(rt, 10_000, rand.New(rand.NewPCG(1, 2)))
			for k := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("subset %q picked %.2f%% of the time, want never", k, got[k])
				}
			}
			for k, want := range tt.want {
				if math.Abs(got[k]-want) > 3 {
					t.Errorf("subset %q picked %.2f%%, want %.0f%% ± 3", k, got[k], want)
				}
			}
		})
	}
}

func TestPickSubsetHeaderRoute(t *testing.T) {
	tbl := mustCompile(t, versions,
		route.Route{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}, To: map[string]int{"v2": 100}},
		route.Route{Name: "default", Match: route.Match{PathPrefix: "/"}, To: map[string]int{"v1": 90, "v2": 10}},
	)
	rng := rand.New(rand.NewPCG(3, 4))
	canary := tbl.Match(request("GET", "/x", "X-Canary", "1"))
	if got := shares(canary, 10_000, rng); got["v2"] != 100 {
		t.Errorf("header route shares = %v, want v2 100%%", got)
	}
	def := tbl.Match(request("GET", "/x"))
	if got := shares(def, 10_000, rng); math.Abs(got["v1"]-90) > 3 || math.Abs(got["v2"]-10) > 3 {
		t.Errorf("default route shares = %v, want v1 90%%, v2 10%% ± 3", got)
	}
}

func TestPickSubsetEdges(t *testing.T) {
	rt := mustCompile(t, versions, route.Route{To: map[string]int{"v1": 1, "v2": 1}}).Route(0)
	if got := rt.PickSubset(0); got != "v1" {
		t.Errorf("PickSubset(0) = %q, want v1", got)
	}
	if got := rt.PickSubset(math.MaxUint64); got != "v2" {
		t.Errorf("PickSubset(max) = %q, want v2", got)
	}
	if got := rt.PickSubset(1 << 63); got != "v2" {
		t.Errorf("PickSubset(half) = %q, want v2", got)
	}
	if got := rt.PickSubset(1<<63 - 1); got != "v1" {
		t.Errorf("PickSubset(half-1) = %q, want v1", got)
	}
	all := mustCompile(t, versions, route.Route{}).Route(0)
	if got := all.PickSubset(42); got != "" {
		t.Errorf("route without to: PickSubset = %q, want \"\" (every endpoint)", got)
	}
	var none *route.CompiledRoute
	if got := none.PickSubset(42); got != "" {
		t.Errorf("nil route: PickSubset = %q, want \"\"", got)
	}
}

func TestPickSubsetDoesNotAllocate(t *testing.T) {
	rt := tenRoutes(t).Route(3)
	var x uint64
	if allocs := testing.AllocsPerRun(100, func() { x += 0x9e3779b97f4a7c15; rt.PickSubset(x) }); allocs != 0 {
		t.Errorf("PickSubset allocates %v times, want 0", allocs)
	}
}
