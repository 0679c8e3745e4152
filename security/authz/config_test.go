package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security/authz"
)

func TestValidateAccepts(t *testing.T) {
	for _, c := range []authz.Config{
		{},
		{Mode: authz.DryRun},
		shop,
		strict,
		benchConfig,
		{Rules: []authz.Rule{{}}}, // any local peer, anything
		{Rules: []authz.Rule{{From: []string{"orders", "orders"}, Paths: []string{"/", "/*", "/a/", "/.well-known/*", "/a/.*", "/a/..b", "/a b"}}}},
		{Rules: []authz.Rule{{From: []string{"spiffe://example.org", "spiffe://example.org/*", "spiffe://partner.net/ns/a*", "a", "0-9"}}}},
		{Rules: []authz.Rule{{Methods: []string{"GET", "PATCH", "M-SEARCH", "X_CUSTOM2"}}}},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

func TestValidateMessages(t *testing.T) {
	rule := func(r authz.Rule) authz.Config { return authz.Config{Rules: []authz.Rule{r}} }
	for _, tc := range []struct {
		name string
		c    authz.Config
		want string
	}{
		{"unknown mode", authz.Config{Mode: "audit"},
			`authz: mode: "audit" is not a mode; write enforce or dry-run (if empty, enforce)`},
		{"star inside path", rule(authz.Rule{Paths: []string{"/a*b"}}),
			`authz: rules[0].paths[0]: "/a*b": '*' may only end a path pattern, as in "/a/*"`},
		{"double star", rule(authz.Rule{Paths: []string{"/a/**"}}),
			`authz: rules[0].paths[0]: "/a/**": '*' may only end a path pattern, as in "/a/*"`},
		{"lone star path", rule(authz.Rule{Paths: []string{"*"}}),
			`authz: rules[0].paths[0]: a lone '*' is not a path; leave paths empty to allow any path`},
		{"relative path", rule(authz.Rule{Paths: []string{"charge"}}),
			`authz: rules[0].paths[0]: "charge": a path pattern must start with '/', as in "/charge"`},
		{"empty path", rule(authz.Rule{Paths: []string{""}}),
			`authz: rules[0].paths[0]: empty; write a path like "/charge", or leave paths empty to allow any path`},
		{"query", rule(authz.Rule{Paths: []string{"/a?b=1"}}),
			`authz: rules[0].paths[0]: "/a?b=1": a path pattern matches the URL path only; remove everything from "?" on`},
		{"control character", rule(authz.Rule{Paths: []string{"/a\nb"}}),
			`authz: rules[0].paths[0]: "/a\nb": contains a control character; write the path as the server receives it, decoded`},
		{"dot segments", rule(authz.Rule{Paths: []string{"/a/../b/"}}),
			`authz: rules[0].paths[0]: "/a/../b/": empty, '.' and '..' segments never match a routed request; write the clean path, as in "/b/"`},
		{"empty segment in prefix", rule(authz.Rule{Paths: []string{"/a//b/*"}}),
			`authz: rules[0].paths[0]: "/a//b/*": empty, '.' and '..' segments never match a routed request; write the clean path, as in "/a/b/*"`},
		{"uppercase service", rule(authz.Rule{From: []string{"Orders"}}),
			`authz: rules[0].from[0]: "Orders": not a service name or SPIFFE ID: service names are lowercase; write "orders"`},
		{"bad service", rule(authz.Rule{From: []string{"my_service"}}),
			`authz: rules[0].from[0]: "my_service": not a service name or SPIFFE ID: write a service name of 1 to 63 lowercase letters, digits and '-', or a SPIFFE ID like "spiffe://example.org/ns/batch/sa/worker"`},
		{"other scheme", rule(authz.Rule{From: []string{"https://example.org/x"}}),
			`authz: rules[0].from[0]: "https://example.org/x": not a service name or SPIFFE ID: SPIFFE IDs start with "spiffe://"`},
		{"empty from entry", rule(authz.Rule{From: []string{""}}),
			`authz: rules[0].from[0]: empty; write a service name like orders or a SPIFFE ID like "spiffe://example.org/ns/batch/*"`},
		{"lone star from", rule(authz.Rule{From: []string{"*"}}),
			`authz: rules[0].from[0]: "*": '*' may only end a SPIFFE ID pattern, as in "spiffe://example.org/ns/batch/*"; to allow every caller of the local trust domain, leave from empty`},
		{"trailing slash ID", rule(authz.Rule{From: []string{"spiffe://x/"}}),
			`authz: rules[0].from[0]: "spiffe://x/": not a SPIFFE ID: path cannot have a trailing slash; write "spiffe://x/*" to allow every ID under it, or "spiffe://x" for this ID alone`},
		{"bad trust domain", rule(authz.Rule{From: []string{"spiffe://Example.org/a"}}),
			`authz: rules[0].from[0]: "spiffe://Example.org/a": not a SPIFFE ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
		{"pattern spans trust domains", rule(authz.Rule{From: []string{"spiffe://example*"}}),
			`authz: rules[0].from[0]: "spiffe://example*": the part before '*' must be a whole trust domain followed by '/', as in "spiffe://example/*"`},
		{"pattern without trust domain", rule(authz.Rule{From: []string{"spiffe://*"}}),
			`authz: rules[0].from[0]: "spiffe://*": the part before '*' must be a whole trust domain followed by '/', as in "spiffe://example.org/*"`},
		{"star inside SPIFFE ID", rule(authz.Rule{From: []string{"spiffe://example.org/ns/*/sa"}}),
			`authz: rules[0].from[0]: "spiffe://example.org/ns/*/sa": '*' may only end a SPIFFE ID pattern, as in "spiffe://example.org/ns/*"`},
		{"pattern no ID can match", rule(authz.Rule{From: []string{"spiffe://example.org//*"}}),
			`authz: rules[0].from[0]: "spiffe://example.org//*": no SPIFFE ID can match: path cannot contain empty segments`},
		{"lowercase method", rule(authz.Rule{Methods: []string{"get"}}),
			`authz: rules[0].methods[0]: "get": methods are uppercase and compared exactly; write GET`},
		{"star method", rule(authz.Rule{Methods: []string{"*"}}),
			`authz: rules[0].methods[0]: '*' is not a method; leave methods empty to allow any method`},
		{"bad method", rule(authz.Rule{Methods: []string{"GET POST"}}),
			`authz: rules[0].methods[0]: "GET POST" is not a method; write an uppercase token like GET or POST`},
		{"empty method", rule(authz.Rule{Methods: []string{""}}),
			`authz: rules[0].methods[0]: empty; write a method like GET or POST, or leave methods empty to allow any method`},
		{"every problem, in order", authz.Config{Rules: []authz.Rule{
			{From: []string{"orders"}},
			{From: []string{"ok", "Bad"}, Methods: []string{"GET"}, Paths: []string{"/ok", "x"}},
		}}, `authz: rules[1].from[1]: "Bad": not a service name or SPIFFE ID: service names are lowercase; write "bad"` + "\n" +
			`authz: rules[1].paths[1]: "x": a path pattern must start with '/', as in "/x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", err, tc.want)
			}
			var list fielderr.List
			if !errors.As(err, &list) || len(list) == 0 || list[0].Pkg != "authz" {
				t.Errorf("error %T is not a fielderr.List from authz", err)
			}
			if _, cerr := authz.Compile(tc.c, local, idOf); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Compile error = %v, want the Validate error", cerr)
			}
		})
	}
}

func TestLongEntryIsCut(t *testing.T) {
	long := strings.Repeat("A", 500)
	err := authz.Config{Rules: []authz.Rule{{From: []string{long}}}}.Validate()
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("Validate() of a 500-byte entry = %d bytes: %v", len(err.Error()), err)
	}
}

func TestUnknownSources(t *testing.T) {
	known := func(s string) bool { return s == "orders" || s == "checkout" }
	c := authz.Config{Rules: []authz.Rule{
		{From: []string{"orders", "ordrs", "spiffe://example.org/svc/ordrs"}},
		{From: []string{"checkout", "Bad", "x*"}},
		{From: []string{"ledger"}},
	}}
	err := c.UnknownSources(known)
	want := `authz: rules[0].from[1]: unknown service "ordrs": name it under services, or use its SPIFFE ID` + "\n" +
		`authz: rules[2].from[0]: unknown service "ledger": name it under services, or use its SPIFFE ID`
	if err == nil || err.Error() != want {
		t.Errorf("UnknownSources() =\n%v\nwant\n%s", err, want)
	}
	var list fielderr.List
	if !errors.As(err, &list) || len(list) != 2 || list[1].Key != "rules[2].from[0]" {
		t.Errorf("UnknownSources() problems = %v", list)
	}
	if err := shop.UnknownSources(func(string) bool { return true }); err != nil {
		t.Errorf("all known: %v", err)
	}
	if err := c.UnknownSources(nil); err != nil {
		t.Errorf("nil known: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	c := authz.Config{Rules: []authz.Rule{
		{From: []string{"orders", "ghost"}},
		{From: []string{"ghost"}},
	}}
	_, err := authz.Compile(c, local, idOf)
	want := `authz: rules[0].from[1]: no SPIFFE ID for service "ghost": no such service` + "\n" +
		`authz: rules[1].from[0]: no SPIFFE ID for service "ghost": no such service`
	if err == nil || err.Error() != want {
		t.Errorf("Compile() error =\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, errGhost) {
		t.Errorf("Compile() error does not wrap the mapping's error")
	}

	_, err = authz.Compile(c, local, func(string) (spiffeid.ID, error) { return spiffeid.ID{}, nil })
	if err == nil || !strings.Contains(err.Error(), "returned an empty ID") {
		t.Errorf("Compile() with an empty mapping = %v", err)
	}

	_, err = authz.Compile(c, local, nil)
	if err == nil || !strings.Contains(err.Error(), "use the SPIFFE ID") {
		t.Errorf("Compile() without a mapping = %v", err)
	}
	if _, err := authz.Compile(strict, local, nil); err == nil {
		t.Error("Compile() of a rule naming a service, without a mapping, succeeded")
	}
	ids := authz.Config{Rules: []authz.Rule{{From: []string{"spiffe://example.org/svc/orders"}}}}
	if p, err := authz.Compile(ids, local, nil); err != nil || !p.Decide(orders, "GET", "/", nil).Allow {
		t.Errorf("Compile() of SPIFFE IDs only, without a mapping: %v", err)
	}

	if _, err := authz.Compile(shop, spiffeid.TrustDomain{}, idOf); err == nil || !strings.HasPrefix(err.Error(), "authz: no local trust domain") {
		t.Errorf("Compile() without a trust domain = %v", err)
	}
}

// TestCompileCopies checks that a Policy does not see later changes to
// the Config it was compiled from.
func TestCompileCopies(t *testing.T) {
	c := authz.Config{Rules: []authz.Rule{{From: []string{"orders"}, Methods: []string{"GET"}, Paths: []string{"/a"}}}}
	p := mustCompile(t, c)
	c.Rules[0].Methods[0] = "POST"
	c.Rules[0].Paths[0] = "/b"
	c.Rules[0].From[0] = "checkout"
	if d := p.Decide(orders, "GET", "/a", nil); !d.Allow {
		t.Errorf("after editing the Config: %+v", d)
	}
}
