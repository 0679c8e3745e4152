package route_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/transport/route"
)

func userContext(t testing.TB, payload string) context.Context {
	t.Helper()
	s, err := claims.Parse([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return claims.NewContext(context.Background(), s)
}

func TestMatchClaims(t *testing.T) {
	subsets := map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}}
	tbl, err := route.Compile(subsets, []route.Route{
		{Name: "beta", Match: route.Match{Claims: map[string][]string{"plan": {"beta"}}}, To: map[string]int{"v2": 1}},
		{Name: "staff-api", Match: route.Match{PathPrefix: "/api/", Claims: map[string][]string{"groups": {"staff", "admins"}}}, To: map[string]int{"v2": 1}},
		{Name: "rest", To: map[string]int{"v1": 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := func(ctx context.Context, path string) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://payments"+path, nil)
		return r
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		path string
		want string
	}{
		{"beta user", userContext(t, `{"sub":"a","plan":"beta"}`), "/x", "beta"},
		{"other plan", userContext(t, `{"sub":"a","plan":"gold"}`), "/x", "rest"},
		{"admin on the api", userContext(t, `{"groups":["admins"]}`), "/api/1", "staff-api"},
		{"admin elsewhere", userContext(t, `{"groups":["admins"]}`), "/x", "rest"},
		{"no claims", context.Background(), "/api/1", "rest"},
	} {
		if got := tbl.Match(req(tc.ctx, tc.path)).Name(); got != tc.want {
			t.Errorf("%s: route %q, want %q", tc.name, got, tc.want)
		}
	}
	// A request built without a context (as some callers do) matches no
	// route on claims.
	bare := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/x"}, Header: http.Header{}}
	if got := tbl.Match(bare).Name(); got != "rest" {
		t.Errorf("request without a context: %q", got)
	}
	ctx := userContext(t, `{"plan":"beta"}`)
	r := req(ctx, "/x")
	if n := testing.AllocsPerRun(100, func() { tbl.Match(r) }); n != 0 {
		t.Errorf("Match with claims allocates %v times", n)
	}
}

func TestValidateClaimsMatch(t *testing.T) {
	err := route.Config{Routes: []route.Route{{Match: route.Match{Claims: map[string][]string{"plan": {}, "": {"x"}}}}}}.Validate()
	for _, want := range []string{"route: routes[0].match.claims: a claim name is empty", "route: routes[0].match.claims.plan: lists no value"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	if (route.Match{Claims: map[string][]string{"a": {"b"}}}).IsZero() {
		t.Error("a match on claims is zero")
	}
}

// FuzzMatchClaims compiles a route on claims from the input and checks
// Match against the documented rule on claims built from the input.
func FuzzMatchClaims(f *testing.F) {
	f.Add("plan", "beta", `{"plan":"beta"}`)
	f.Add("groups", "admins", `{"groups":["ops","admins"]}`)
	f.Add("scope", "a", `{"scope":"b a"}`)
	f.Add("n", "1", `{"n":1.0}`)
	f.Fuzz(func(t *testing.T, name, value, payload string) {
		cond := map[string][]string{name: {value}}
		tbl, err := route.Compile(nil, []route.Route{{Match: route.Match{Claims: cond}}})
		if err != nil {
			if len(claims.Validate("c", cond)) == 0 {
				t.Fatalf("Compile refused a valid condition: %v", err)
			}
			return
		}
		s, err := claims.Parse([]byte(payload))
		if err != nil {
			return
		}
		r, _ := http.NewRequestWithContext(claims.NewContext(context.Background(), s), http.MethodGet, "http://x/", nil)
		want := slices.Contains(s.Values(name), value)
		if got := tbl.Match(r) != nil; got != want {
			t.Fatalf("Match = %v, want %v: %v on %s", got, want, cond, payload)
		}
	})
}
