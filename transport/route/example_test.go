package route_test

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/weftmesh/weft/transport/route"
)

func Example() {
	cfg := route.Config{
		Subsets: map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}},
		Routes: []route.Route{
			{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}, To: map[string]int{"v2": 100}},
			{Name: "default", Match: route.Match{PathPrefix: "/"}, To: map[string]int{"v1": 90, "v2": 10},
				Fault: &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: 100}}},
		},
	}
	tbl, err := route.Compile(cfg.Subsets, cfg.Routes)
	if err != nil {
		fmt.Println(err)
		return
	}

	req := &http.Request{Method: "GET", URL: &url.URL{Path: "/charge"}, Header: http.Header{}}
	req.Header.Set("X-Canary", "1")
	rt := tbl.Match(req)
	fmt.Println(rt.Name(), rt.PickSubset(12345))

	req.Header.Del("X-Canary")
	rt = tbl.Match(req)
	delay, status := rt.Fault(func() float64 { return 0.5 })
	fmt.Println(rt.Name(), rt.PickSubset(0), delay, status)
	// Output:
	// canary v2
	// default v1 0s 503
}

func ExampleCompile_error() {
	_, err := route.Compile(
		map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}},
		[]route.Route{
			{Name: "stable", To: map[string]int{"v1": 100}},
			{Name: "next", To: map[string]int{"v3": 100}, Timeout: -time.Second},
		})
	fmt.Println(err)
	// Output:
	// route: routes[1].to: unknown subset "v3" (defined: v1, v2)
	// route: routes[1].timeout: must not be negative; leave it out to use the service's timeout
}

func ExamplePartition() {
	type instance struct{ addr, version string }
	tbl, _ := route.Compile(map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}}, nil)
	groups := route.Partition(tbl, []instance{{"127.0.0.1:8001", "v1"}, {"127.0.0.1:8002", "v2"}, {"127.0.0.1:8003", "v1"}},
		func(in instance) (string, map[string]string) { return in.version, nil })
	for _, name := range tbl.SubsetNames() {
		fmt.Println(name, groups[name])
	}
	// Output:
	// v1 [{127.0.0.1:8001 v1} {127.0.0.1:8003 v1}]
	// v2 [{127.0.0.1:8002 v2}]
}
