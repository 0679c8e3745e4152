package route_test

import (
	"net/http"
	"testing"

	"github.com/weftmesh/weft/transport/route"
)

func TestMatchPath(t *testing.T) {
	tbl := mustCompile(t, nil,
		route.Route{Name: "exact", Match: route.Match{Path: "/charge"}},
		route.Route{Name: "prefix", Match: route.Match{PathPrefix: "/api/"}},
	)
	tests := []struct {
		path, want string
	}{
		{"/charge", "exact"},
		{"/charge/", ""},
		{"/charges", ""},
		{"/Charge", ""},
		{"/", ""},
		{"", ""},
		{"/api/", "prefix"},
		{"/api/v1/items", "prefix"},
		{"/api", ""},
		{"/apis/x", ""},
	}
	for _, tt := range tests {
		if got := matchedName(tbl, request("GET", tt.path)); got != tt.want {
			t.Errorf("path %q: matched %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestMatchPrefixIsByteWise(t *testing.T) {
	tbl := mustCompile(t, nil, route.Route{Name: "api", Match: route.Match{PathPrefix: "/api"}})
	for _, p := range []string{"/api", "/api/x", "/apis"} {
		if got := matchedName(tbl, request("GET", p)); got != "api" {
			t.Errorf("path %q: matched %q, want api", p, got)
		}
	}
}

func TestMatchMethods(t *testing.T) {
	tbl := mustCompile(t, nil,
		route.Route{Name: "writes", Match: route.Match{Methods: []string{"POST", "PUT", "DELETE"}}},
		route.Route{Name: "get", Match: route.Match{Methods: []string{"GET"}}},
	)
	tests := []struct {
		method, want string
	}{
		{"POST", "writes"},
		{"PUT", "writes"},
		{"DELETE", "writes"},
		{"GET", "get"},
		{"", "get"}, // net/http: an empty method means GET
		{"post", ""},
		{"PATCH", ""},
		{"HEAD", ""},
		{"PROPFIND", ""},
	}
	for _, tt := range tests {
		if got := matchedName(tbl, request(tt.method, "/")); got != tt.want {
			t.Errorf("method %q: matched %q, want %q", tt.method, got, tt.want)
		}
	}
}

func TestMatchHeaders(t *testing.T) {
	tbl := mustCompile(t, nil,
		route.Route{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}},
		route.Route{Name: "both", Match: route.Match{Headers: map[string]string{"X-TENANT": "acme", "x-plan": "Gold"}}},
	)
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"canonical name", []string{"X-Canary", "1"}, "canary"},
		{"lower-case name", []string{"x-canary", "1"}, "canary"},
		{"upper-case name", []string{"X-CANARY", "1"}, "canary"},
		{"other value", []string{"X-Canary", "2"}, ""},
		{"value with spaces", []string{"X-Canary", " 1"}, ""},
		{"empty value", []string{"X-Canary", ""}, ""},
		{"absent", nil, ""},
		{"first value counts", []string{"X-Canary", "1", "X-Canary", "2"}, "canary"},
		{"first value counts, mismatch", []string{"X-Canary", "2", "X-Canary", "1"}, ""},
		{"all headers", []string{"x-tenant", "acme", "X-Plan", "Gold"}, "both"},
		{"value case matters", []string{"x-tenant", "acme", "X-Plan", "gold"}, ""},
		{"one header missing", []string{"x-tenant", "acme"}, ""},
	}
	for _, tt := range tests {
		if got := matchedName(tbl, request("GET", "/", tt.headers...)); got != tt.want {
			t.Errorf("%s: matched %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMatchAllConditions(t *testing.T) {
	tbl := mustCompile(t, nil, route.Route{Name: "r", Match: route.Match{
		PathPrefix: "/orders/",
		Methods:    []string{"POST"},
		Headers:    map[string]string{"x-canary": "1"},
	}})
	if got := matchedName(tbl, request("POST", "/orders/7", "X-Canary", "1")); got != "r" {
		t.Fatalf("every condition met: matched %q, want r", got)
	}
	for _, r := range []*http.Request{
		request("GET", "/orders/7", "X-Canary", "1"),
		request("POST", "/users/7", "X-Canary", "1"),
		request("POST", "/orders/7"),
	} {
		if got := matchedName(tbl, r); got != "" {
			t.Errorf("%s %s %v: matched %q, want no route", r.Method, r.URL.Path, r.Header, got)
		}
	}
}

func TestMatchFirstWins(t *testing.T) {
	tbl := mustCompile(t, versions,
		route.Route{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}, To: map[string]int{"v2": 100}},
		route.Route{Name: "charge", Match: route.Match{Path: "/charge"}},
		route.Route{Name: "all"}, // catch-all
		route.Route{Name: "unreachable", Match: route.Match{Path: "/never"}},
	)
	tests := []struct {
		r    *http.Request
		want string
	}{
		{request("POST", "/charge", "X-Canary", "1"), "canary"},
		{request("POST", "/charge"), "charge"},
		{request("GET", "/never"), "all"},
		{request("GET", "/anything"), "all"},
	}
	for _, tt := range tests {
		if got := matchedName(tbl, tt.r); got != tt.want {
			t.Errorf("%s %v: matched %q, want %q", tt.r.URL.Path, tt.r.Header, got, tt.want)
		}
	}
	if got := tbl.Match(request("GET", "/x")).Index(); got != 2 {
		t.Errorf("catch-all Index() = %d, want 2", got)
	}
}

func TestMatchNothing(t *testing.T) {
	var nilTable *route.Table
	if rt := nilTable.Match(request("GET", "/")); rt != nil {
		t.Errorf("nil table matched %q", rt.Name())
	}
	empty := mustCompile(t, nil)
	if rt := empty.Match(request("GET", "/")); rt != nil {
		t.Errorf("empty table matched %q", rt.Name())
	}
	tbl := mustCompile(t, nil, route.Route{Name: "p", Match: route.Match{PathPrefix: "/"}}, route.Route{Name: "all"})
	if rt := tbl.Match(nil); rt != nil {
		t.Errorf("nil request matched %q", rt.Name())
	}
	// No URL: only routes without a path condition can match.
	if got := matchedName(tbl, &http.Request{Method: "GET"}); got != "all" {
		t.Errorf("request without URL matched %q, want all", got)
	}
}

func TestUnnamedRouteName(t *testing.T) {
	tbl := mustCompile(t, nil, route.Route{Match: route.Match{Path: "/a"}}, route.Route{})
	if got := matchedName(tbl, request("GET", "/b")); got != "routes[1]" {
		t.Errorf("Name() = %q, want routes[1]", got)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tbl := tenRoutes(t)
	reqs := []*http.Request{
		request("GET", "/svc9/x", "X-Tenant", "t9"),
		request("POST", "/nothing"),
		request("GET", "/svc0/x", "X-Tenant", "t0"),
	}
	for _, r := range reqs {
		allocs := testing.AllocsPerRun(100, func() { tbl.Match(r) })
		if allocs != 0 {
			t.Errorf("Match(%s) allocates %v times, want 0", r.URL.Path, allocs)
		}
	}
}
