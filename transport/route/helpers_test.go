package route_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/weftmesh/weft/transport/route"
)

// versions is the subset set most tests use.
var versions = map[string]route.Subset{
	"v1": {Version: "v1"},
	"v2": {Version: "v2"},
}

func mustCompile(t testing.TB, subsets map[string]route.Subset, routes ...route.Route) *route.Table {
	t.Helper()
	tbl, err := route.Compile(subsets, routes)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tbl
}

// request builds a request the way a client does, with headers set
// through http.Header so that their names are canonical.
func request(method, path string, headers ...string) *http.Request {
	r := &http.Request{Method: method, URL: &url.URL{Scheme: "http", Host: "payments", Path: path}, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// matchedName returns the name of the route r matches in tbl, or "" when
// none does.
func matchedName(tbl *route.Table, r *http.Request) string {
	return tbl.Match(r).Name()
}

// tenRoutes returns a table of ten routes; route i takes GET and POST
// requests under /svc<i>/ carrying X-Tenant: t<i>.
func tenRoutes(t testing.TB) *route.Table {
	t.Helper()
	routes := make([]route.Route, 10)
	for i := range routes {
		d := string(rune('0' + i))
		routes[i] = route.Route{
			Name: "r" + d,
			Match: route.Match{
				PathPrefix: "/svc" + d + "/",
				Methods:    []string{"GET", "POST"},
				Headers:    map[string]string{"x-tenant": "t" + d},
			},
			To: map[string]int{"v1": 90, "v2": 10},
		}
	}
	return mustCompile(t, versions, routes...)
}
