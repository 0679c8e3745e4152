package route_test

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/transport/route"
)

func BenchmarkMatch(b *testing.B) {
	tbl := tenRoutes(b)
	cases := []struct {
		name string
		r    *http.Request
	}{
		{"10routes/first", request("GET", "/svc0/items", "X-Tenant", "t0", "Accept", "*/*")},
		{"10routes/last", request("GET", "/svc9/items", "X-Tenant", "t9", "Accept", "*/*")},
		{"10routes/none", request("GET", "/other", "X-Tenant", "t9", "Accept", "*/*")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tbl.Match(c.r)
			}
		})
	}
	b.Run("10routes/last/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := request("GET", "/svc9/items", "X-Tenant", "t9", "Accept", "*/*")
			for pb.Next() {
				tbl.Match(r)
			}
		})
	})
}

func BenchmarkPickSubset(b *testing.B) {
	subsets := map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}, "v3": {Version: "v3"}}
	for _, c := range []struct {
		name string
		to   map[string]int
	}{
		{"2way", map[string]int{"v1": 90, "v2": 10}},
		{"3way", map[string]int{"v1": 50, "v2": 30, "v3": 20}},
	} {
		rt := mustCompile(b, subsets, route.Route{To: c.to}).Route(0)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				rt.PickSubset(rng.Uint64())
			}
		})
	}
}

func BenchmarkFault(b *testing.B) {
	rt := mustCompile(b, versions, route.Route{
		Fault:  &route.Fault{Delay: &route.FaultDelay{Duration: time.Millisecond, Percent: 10}, Abort: &route.FaultAbort{Status: 503, Percent: 5}},
		Mirror: &route.Mirror{Subset: "v2", Percent: 10},
	}).Route(0)
	rnd := rand.New(rand.NewPCG(1, 2)).Float64
	b.ReportAllocs()
	for b.Loop() {
		rt.Fault(rnd)
		rt.MirrorSubset(rnd)
	}
}

func BenchmarkCompile10(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		tenRoutes(b)
	}
}
