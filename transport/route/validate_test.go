package route_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/transport/route"
)

func TestValidateAcceptsGoodConfig(t *testing.T) {
	c := route.Config{
		Subsets: map[string]route.Subset{
			"v1":     {Version: "v1"},
			"v2":     {Version: "v2"},
			"eu":     {Labels: map[string]string{"region": "eu"}},
			"anyone": {},
		},
		Routes: []route.Route{
			{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}, To: map[string]int{"v2": 100}},
			{Name: "charge", Match: route.Match{Path: "/charge", Methods: []string{"POST"}}, Timeout: time.Second,
				Fault:  &route.Fault{Delay: &route.FaultDelay{Duration: 100 * time.Millisecond, Percent: 10}, Abort: &route.FaultAbort{Status: 503, Percent: 5}},
				Mirror: &route.Mirror{Subset: "eu", Percent: 12.5}},
			{Match: route.Match{PathPrefix: "/"}, To: map[string]int{"v1": 90, "v2": 10, "eu": 0}},
			{},
		},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := route.Compile(c.Subsets, c.Routes); err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if err := (route.Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	two := map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}}
	tests := []struct {
		name    string
		subsets map[string]route.Subset
		route   route.Route
		key     string
		msg     string // substring of the message
	}{
		{"unknown subset in to", two, route.Route{To: map[string]int{"v1": 50, "v3": 50}},
			"routes[0].to", `unknown subset "v3" (defined: v1, v2)`},
		{"unknown subset, none defined", nil, route.Route{To: map[string]int{"v1": 1}},
			"routes[0].to", `unknown subset "v1" (no subsets are defined; define it under subsets)`},
		{"unknown mirror subset", two, route.Route{Mirror: &route.Mirror{Subset: "shadow", Percent: 1}},
			"routes[0].mirror.subset", `unknown subset "shadow" (defined: v1, v2)`},
		{"mirror without subset", two, route.Route{Mirror: &route.Mirror{Percent: 1}},
			"routes[0].mirror.subset", "must name the subset"},
		{"mirror percent", two, route.Route{Mirror: &route.Mirror{Subset: "v1", Percent: 101}},
			"routes[0].mirror.percent", "must be a number from 0 to 100, got 101"},
		{"negative weight", two, route.Route{To: map[string]int{"v1": -1, "v2": 1}},
			"routes[0].to.v1", "weight -1 is out of range"},
		{"huge weight", two, route.Route{To: map[string]int{"v1": 2_000_000}},
			"routes[0].to.v1", "weight 2000000 is out of range"},
		{"all weights zero", two, route.Route{To: map[string]int{"v1": 0, "v2": 0}},
			"routes[0].to", "every weight is 0"},
		{"path and prefix", nil, route.Route{Match: route.Match{Path: "/a", PathPrefix: "/"}},
			"routes[0].match", "set path or pathPrefix, not both"},
		{"relative path", nil, route.Route{Match: route.Match{Path: "charge"}},
			"routes[0].match.path", `"charge" does not start with '/'`},
		{"relative prefix", nil, route.Route{Match: route.Match{PathPrefix: "api/"}},
			"routes[0].match.pathPrefix", `"api/" does not start with '/'`},
		{"lower-case method", nil, route.Route{Match: route.Match{Methods: []string{"GET", "post"}}},
			"routes[0].match.methods[1]", `unknown method "post"; methods are upper case: write "POST"`},
		{"unknown method", nil, route.Route{Match: route.Match{Methods: []string{"FETCH"}}},
			"routes[0].match.methods[0]", `unknown method "FETCH"; write one of GET, HEAD, POST`},
		{"empty method", nil, route.Route{Match: route.Match{Methods: []string{""}}},
			"routes[0].match.methods[0]", `unknown method ""`},
		{"bad header name", nil, route.Route{Match: route.Match{Headers: map[string]string{"x canary": "1"}}},
			"routes[0].match.headers", `"x canary" is not a valid header name`},
		{"empty header value", nil, route.Route{Match: route.Match{Headers: map[string]string{"x-canary": ""}}},
			"routes[0].match.headers.x-canary", "must not be empty"},
		{"host header", nil, route.Route{Match: route.Match{Headers: map[string]string{"host": "a"}}},
			"routes[0].match.headers.host", "Host header cannot be matched"},
		{"duplicate header", nil, route.Route{Match: route.Match{Headers: map[string]string{"X-Canary": "1", "x-canary": "1"}}},
			"routes[0].match.headers.x-canary", `header "x-canary" is also listed as "X-Canary"`},
		{"negative timeout", nil, route.Route{Timeout: -time.Second},
			"routes[0].timeout", "must not be negative"},
		{"empty fault", nil, route.Route{Fault: &route.Fault{}},
			"routes[0].fault", "set delay, abort or both"},
		{"zero delay", nil, route.Route{Fault: &route.Fault{Delay: &route.FaultDelay{Percent: 5}}},
			"routes[0].fault.delay.duration", "must be greater than zero"},
		{"delay percent", nil, route.Route{Fault: &route.Fault{Delay: &route.FaultDelay{Duration: 1, Percent: -1}}},
			"routes[0].fault.delay.percent", "must be a number from 0 to 100, got -1"},
		{"NaN percent", nil, route.Route{Fault: &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: math.NaN()}}},
			"routes[0].fault.abort.percent", "must be a number from 0 to 100, got NaN"},
		{"missing status", nil, route.Route{Fault: &route.Fault{Abort: &route.FaultAbort{Percent: 5}}},
			"routes[0].fault.abort.status", "0 is not an HTTP error status; use a status from 400 to 599"},
		{"success status", nil, route.Route{Fault: &route.Fault{Abort: &route.FaultAbort{Status: 200, Percent: 5}}},
			"routes[0].fault.abort.status", "200 is not an HTTP error status"},
		{"bad route name", nil, route.Route{Name: "my route"},
			"routes[0].name", `invalid route name "my route"`},
		{"bad subset name", map[string]route.Subset{"v 1": {Version: "v1"}}, route.Route{},
			"subsets", `invalid subset name "v 1"`},
		{"empty label name", map[string]route.Subset{"v1": {Labels: map[string]string{"": "x"}}}, route.Route{},
			"subsets.v1.labels", "a label name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := route.Config{Subsets: tt.subsets, Routes: []route.Route{tt.route}}.Validate()
			var fes fielderr.List
			if !errors.As(err, &fes) {
				t.Fatalf("Validate = %v, want a fielderr.List", err)
			}
			if len(fes) != 1 {
				t.Fatalf("Validate reported %d problems, want 1:\n%v", len(fes), err)
			}
			if fes[0].Key != tt.key || !strings.Contains(fes[0].Msg, tt.msg) {
				t.Errorf("got key %q msg %q;\nwant key %q msg containing %q", fes[0].Key, fes[0].Msg, tt.key, tt.msg)
			}
			if _, cerr := route.Compile(tt.subsets, []route.Route{tt.route}); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Compile error %v, want the same as Validate's", cerr)
			}
		})
	}
}

func TestCompileErrorFormat(t *testing.T) {
	routes := []route.Route{
		{Name: "ok", To: map[string]int{"v1": 1}},
		{Name: "bad", To: map[string]int{"v3": 100}, Timeout: -1},
		{Name: "ok", Fault: &route.Fault{Abort: &route.FaultAbort{Status: 700, Percent: 1}}},
	}
	tbl, err := route.Compile(versions, routes)
	if tbl != nil {
		t.Error("Compile returned a table along with an error")
	}
	want := `route: routes[1].to: unknown subset "v3" (defined: v1, v2)
route: routes[1].timeout: must not be negative; leave it out to use the service's timeout
route: routes[2].name: duplicate route name "ok", also the name of routes[0]; route names must be unique
route: routes[2].fault.abort.status: 700 is not an HTTP error status; use a status from 400 to 599, like 503`
	if err == nil || err.Error() != want {
		t.Fatalf("Compile error:\n%v\nwant:\n%s", err, want)
	}
	var first *fielderr.Error
	if !errors.As(err, &first) || first.Key != "routes[1].to" || first.Pkg != "route" {
		t.Errorf("errors.As(*fielderr.Error) = %+v, want the first problem", first)
	}
}

func TestCompileCopiesInput(t *testing.T) {
	subsets := map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Labels: map[string]string{"track": "canary"}}}
	routes := []route.Route{{
		Name:   "r",
		Match:  route.Match{Methods: []string{"GET"}, Headers: map[string]string{"x-a": "1"}},
		To:     map[string]int{"v2": 1},
		Fault:  &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: 100}},
		Mirror: &route.Mirror{Subset: "v1", Percent: 100},
	}}
	tbl := mustCompile(t, subsets, routes...)
	routes[0].Match.Methods[0] = "POST"
	routes[0].Match.Headers["x-a"] = "2"
	routes[0].To["v2"] = 0
	routes[0].Fault.Abort.Status = 500
	routes[0].Mirror.Subset = "v2"
	routes[0].Name = "changed"
	subsets["v2"].Labels["track"] = "stable"
	delete(subsets, "v1")

	rt := tbl.Match(request("GET", "/", "X-A", "1"))
	if rt.Name() != "r" || rt.PickSubset(1) != "v2" || rt.MirrorSubset(func() float64 { return 0 }) != "v1" {
		t.Fatalf("table changed with its input: %q %q", rt.Name(), rt.PickSubset(1))
	}
	if _, s := rt.Fault(func() float64 { return 0 }); s != 503 {
		t.Errorf("abort status %d, want 503", s)
	}
	if s, ok := tbl.Subset("v2"); !ok || s.Labels["track"] != "canary" {
		t.Errorf("Subset(v2) = %+v, %v", s, ok)
	}
	if _, ok := tbl.Subset("v1"); !ok {
		t.Error("Subset(v1) lost")
	}
}
