package route_test

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/transport/route"
)

// naiveMatch is the reference for [route.Table.Match]: it reads the routes as
// written, compares header names by scanning every request header with an
// ASCII case-insensitive comparison, and returns the index of the first
// route that fits, or -1.
func naiveMatch(routes []route.Route, r *http.Request) int {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	for i, rt := range routes {
		m := rt.Match
		if m.Path != "" && r.URL.Path != m.Path {
			continue
		}
		if m.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, m.PathPrefix) {
			continue
		}
		if len(m.Methods) > 0 && !slices.Contains(m.Methods, method) {
			continue
		}
		ok := true
		for name, want := range m.Headers {
			got := ""
			for k, vals := range r.Header {
				if asciiEqualFold(k, name) && len(vals) > 0 {
					got = vals[0]
					break
				}
			}
			if got != want {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// FuzzMatch compiles routes built from the input and checks Match against
// naiveMatch on a request also built from the input.
func FuzzMatch(f *testing.F) {
	f.Add("/charge", "/api/", "x-canary", "1", "GET", "/api/x", "X-Canary", "1", "POST")
	f.Add("", "/", "X-Tenant", "acme", "POST", "/charge", "x-tenant", "acme", "")
	f.Add("/a", "", "x_y", "v", "DELETE", "/a", "X_Y", "v", "delete")
	f.Add("/", "/", "k", "\u212a", "", "", "\u212a", "\u212a", "PROPFIND")
	f.Fuzz(func(t *testing.T, path, prefix, hName, hValue, method, reqPath, reqHName, reqHValue, reqMethod string) {
		var methods []string
		if method != "" {
			methods = []string{method}
		}
		var headers map[string]string
		if hName != "" {
			headers = map[string]string{hName: hValue}
		}
		candidates := []route.Route{
			{Name: "path", Match: route.Match{Path: path, Methods: methods}},
			{Name: "prefix-header", Match: route.Match{PathPrefix: prefix, Headers: headers}},
			{Name: "header", Match: route.Match{Headers: headers, Methods: methods}},
			{Name: "fixed", Match: route.Match{PathPrefix: "/fixed/", Headers: map[string]string{"x-fixed": "yes"}}},
			{Name: "all", Match: route.Match{Methods: []string{"HEAD"}}},
		}
		// Keep the candidates that are valid on their own; the others
		// must be rejected without a panic.
		var routes []route.Route
		for _, c := range candidates {
			if err := (route.Config{Routes: []route.Route{c}}).Validate(); err != nil {
				var fes fielderr.List
				if !errors.As(err, &fes) || len(fes) == 0 {
					t.Fatalf("Validate returned %T %v, want a fielderr.List", err, err)
				}
				continue
			}
			routes = append(routes, c)
		}
		tbl, err := route.Compile(nil, routes)
		if err != nil {
			t.Fatalf("Compile of individually valid routes: %v", err)
		}

		r := &http.Request{Method: reqMethod, URL: &url.URL{Path: reqPath}, Header: http.Header{}}
		if reqHName != "" {
			r.Header.Add(reqHName, reqHValue)
		}
		r.Header.Add("X-Fixed", reqHValue)

		want := naiveMatch(routes, r)
		if got := tbl.Match(r).Index(); got != want {
			t.Fatalf("Match = routes[%d], reference = routes[%d]\nroutes: %+v\nrequest: %q %q %v", got, want, routes, r.Method, r.URL.Path, r.Header)
		}
	})
}

// FuzzCompile checks that Compile never panics, agrees with Validate, and
// yields a table whose decisions stay within the configuration.
func FuzzCompile(f *testing.F) {
	f.Add("v1", "v1", "region", "eu", "canary", "v1", 90, "v2", 10, "/charge", "", "POST", "x-canary", "1", int64(100_000_000), 10.0, 503, 5.0, "v2", 1.0)
	f.Add("", "", "", "", "", "", 0, "", 0, "", "", "", "", "", int64(0), 0.0, 0, 0.0, "", 0.0)
	f.Add("a b", "v", "", "x", "r 1", "zz", -1, "a b", 2_000_000, "x", "y", "get", "Host", "", int64(-1), math.NaN(), 200, 101.0, "nope", -1.0)
	f.Fuzz(func(t *testing.T, subset, version, labelKey, labelValue, name, to1 string, w1 int, to2 string, w2 int,
		path, prefix, method, hName, hValue string, delay int64, delayPct float64, status int, abortPct float64,
		mirror string, mirrorPct float64) {
		subsets := map[string]route.Subset{"v2": {Version: "v2"}}
		if subset != "" {
			subsets[subset] = route.Subset{Version: version, Labels: map[string]string{labelKey: labelValue}}
		}
		r := route.Route{
			Name:  name,
			Match: route.Match{Path: path, PathPrefix: prefix, Methods: []string{method}, Headers: map[string]string{hName: hValue}},
			To:    map[string]int{to1: w1, to2: w2},
			Fault: &route.Fault{
				Delay: &route.FaultDelay{Duration: time.Duration(delay), Percent: delayPct},
				Abort: &route.FaultAbort{Status: status, Percent: abortPct},
			},
			Mirror: &route.Mirror{Subset: mirror, Percent: mirrorPct},
		}
		verr := route.Config{Subsets: subsets, Routes: []route.Route{r}}.Validate()
		tbl, err := route.Compile(subsets, []route.Route{r})
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate = %v but Compile = %v", verr, err)
		}
		if err != nil {
			var fes fielderr.List
			if !errors.As(err, &fes) || len(fes) == 0 {
				t.Fatalf("Compile returned %T %v, want a fielderr.List", err, err)
			}
			for _, fe := range fes {
				if fe.Msg == "" || !(strings.HasPrefix(fe.Key, "subsets") || strings.HasPrefix(fe.Key, "routes[0]")) {
					t.Fatalf("malformed problem %+v", fe)
				}
			}
			return
		}
		rt := tbl.Route(0)
		for _, x := range []uint64{0, 1, 1 << 63, math.MaxUint64} {
			got := rt.PickSubset(x)
			if w, ok := r.To[got]; !ok || w <= 0 {
				t.Fatalf("PickSubset(%d) = %q, not a subset of positive weight in %v", x, got, r.To)
			}
		}
		d, s := rt.Fault(func() float64 { return 0 })
		if (delayPct > 0) != (d == r.Fault.Delay.Duration) || (abortPct > 0) != (s == status) {
			t.Fatalf("Fault(0) = (%v, %d) for %+v %+v", d, s, *r.Fault.Delay, *r.Fault.Abort)
		}
		if got := rt.MirrorSubset(func() float64 { return 0 }); (mirrorPct > 0) != (got == mirror) {
			t.Fatalf("MirrorSubset(0) = %q for %+v", got, *r.Mirror)
		}
	})
}
