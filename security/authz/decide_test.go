package authz_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/authz"
)

var (
	orders   = id("spiffe://example.org/svc/orders")
	checkout = id("spiffe://example.org/svc/checkout")
	batchJob = id("spiffe://example.org/ns/batch/sa/job")
	batchx   = id("spiffe://example.org/ns/batchx/sa/job")
	other    = id("spiffe://example.org/svc/other")
	ledger   = id("spiffe://partner.net/svc/ledger")
	billing  = id("spiffe://partner.net/svc/billing")
	nobody   = spiffeid.ID{}
)

const (
	noIdentity = "no identity: the caller presented no verified SPIFFE ID"
	noSource   = "source not allowed"
	noMethod   = "method not allowed for this source"
	noPath     = "path not allowed"
	noPartner  = "peer from trust domain partner.net: allow it with a rule naming its SPIFFE ID"
)

// shop is the policy most cases run against; every rule is named by the
// index it has here.
var shop = authz.Config{Rules: []authz.Rule{
	0: {From: []string{"orders", "spiffe://example.org/ns/batch/*"}, Methods: []string{"GET", "POST"}, Paths: []string{"/charge", "/refunds/*"}},
	1: {From: []string{"checkout"}, Paths: []string{"/shop.Payments/*"}},
	2: {Methods: []string{"GET"}, Paths: []string{"/healthz"}},
	3: {From: []string{"spiffe://partner.net/svc/ledger"}, Methods: []string{"POST"}, Paths: []string{"/settle"}},
	4: {From: []string{"spiffe://example.org/ns/batch/sa/job"}, Methods: []string{"DELETE"}},
}}

// strict has no rule with an empty from, so unlisted sources are denied
// as such.
var strict = authz.Config{Rules: []authz.Rule{
	{From: []string{"orders"}, Paths: []string{"/api*"}},
	{From: []string{"spiffe://example.org/svc/checkout"}, Methods: []string{"GET"}, Paths: []string{"/exact"}},
}}

type decideCase struct {
	name   string
	peer   spiffeid.ID
	method string
	path   string
	rule   int // -1: none
	reason string
}

func (tc decideCase) check(t *testing.T, p *authz.Policy) {
	t.Helper()
	d := p.Decide(tc.peer, tc.method, tc.path, nil)
	want := authz.Decision{Allow: tc.reason == "", Enforced: true, Rule: tc.rule, Reason: tc.reason}
	if d != want {
		t.Errorf("Decide(%q, %q, %q) = %+v, want %+v", tc.peer, tc.method, tc.path, d, want)
	}
	if d.Refuse() == d.Allow {
		t.Errorf("Refuse() = %v with Allow %v in enforce mode", d.Refuse(), d.Allow)
	}
}

func TestDecideRules(t *testing.T) {
	p := mustCompile(t, shop)
	for _, tc := range []decideCase{
		{"service name exact path", orders, "GET", "/charge", 0, ""},
		{"prefix deep", orders, "POST", "/refunds/1/x", 0, ""},
		{"prefix itself", orders, "GET", "/refunds/", 0, ""},
		{"prefix without its slash", orders, "GET", "/refunds", -1, noPath},
		{"exact is not a prefix", orders, "GET", "/chargeback", -1, noPath},
		{"dot segment under prefix", orders, "GET", "/refunds/../admin", -1, noPath},
		{"single dot under prefix", orders, "GET", "/refunds/./x", -1, noPath},
		{"dot-prefixed name is no dot segment", orders, "GET", "/refunds/.x", 0, ""},
		{"method not listed", orders, "PUT", "/charge", -1, noMethod},
		{"methods are case-sensitive", orders, "get", "/charge", -1, noMethod},
		{"SPIFFE prefix", batchJob, "POST", "/charge", 0, ""},
		{"SPIFFE prefix is not a string prefix of a sibling", batchx, "POST", "/charge", -1, noMethod},
		{"empty from, local peer", other, "GET", "/healthz", 2, ""},
		{"empty from, method", other, "POST", "/healthz", -1, noMethod},
		{"empty from, path", other, "GET", "/charge", -1, noPath},
		{"gRPC method", checkout, "POST", "/shop.Payments/Charge", 1, ""},
		{"gRPC without method", checkout, "", "/shop.Payments/Charge", 1, ""},
		{"gRPC other service", checkout, "POST", "/shop.Orders/List", -1, noPath},
		{"any path", batchJob, "DELETE", "/whatever/deep", 4, ""},
		{"foreign peer named by a rule", ledger, "POST", "/settle", 3, ""},
		{"foreign peer named, wrong method", ledger, "GET", "/settle", -1, noMethod},
		{"foreign peer not named: empty from excludes it", billing, "GET", "/healthz", -1, noPartner},
		{"no identity", nobody, "GET", "/healthz", -1, noIdentity},
		{"first matching rule wins", other, "GET", "/healthz", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, p) })
	}
}

func TestDecideStrict(t *testing.T) {
	p := mustCompile(t, strict)
	for _, tc := range []decideCase{
		{"unlisted local source", other, "GET", "/api", -1, noSource},
		{"prefix matches itself", orders, "GET", "/api", 0, ""},
		{"prefix without slash", orders, "GET", "/apix", 0, ""},
		{"shorter than prefix", orders, "GET", "/ap", -1, noPath},
		{"dot segment", orders, "GET", "/api/./x", -1, noPath},
		{"dot segment at the end", orders, "GET", "/api/..", -1, noPath},
		{"exact SPIFFE ID", checkout, "GET", "/exact", 1, ""},
		{"exact path with dots never matches", checkout, "GET", "/x/../exact", -1, noPath},
		{"foreign", billing, "GET", "/api", -1, noPartner},
		{"no identity", nobody, "GET", "/api", -1, noIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, p) })
	}
}

func TestDecideNoRules(t *testing.T) {
	for name, p := range map[string]*authz.Policy{
		"zero Config": mustCompile(t, authz.Config{}),
		"empty rules": mustCompile(t, authz.Config{Mode: authz.Enforce, Rules: []authz.Rule{}}),
	} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []decideCase{
				{"local peer", orders, "DELETE", "/anything", -1, ""},
				{"no identity", nobody, "GET", "/", -1, ""},
				{"foreign peer", billing, "GET", "/", -1, noPartner},
				{"foreign peer again, from the cache", ledger, "GET", "/", -1, noPartner},
				{"other foreign domain", id("spiffe://acme.io/x"), "GET", "/", -1,
					"peer from trust domain acme.io: allow it with a rule naming its SPIFFE ID"},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.check(t, p) })
			}
		})
	}
}

func TestDecideNilPolicy(t *testing.T) {
	var p *authz.Policy
	for _, peer := range []spiffeid.ID{nobody, orders, billing} {
		decideCase{"nil", peer, "GET", "/x", -1, ""}.check(t, p)
	}
	if p.Rules() != 0 || p.Mode() != authz.Enforce {
		t.Errorf("nil Policy: Rules() = %d, Mode() = %q", p.Rules(), p.Mode())
	}
}

func TestDryRun(t *testing.T) {
	c := strict
	c.Mode = authz.DryRun
	p := mustCompile(t, c)
	if p.Mode() != authz.DryRun || p.Rules() != 2 {
		t.Fatalf("Mode() = %q, Rules() = %d", p.Mode(), p.Rules())
	}
	d := p.Decide(other, "GET", "/api", nil)
	if want := (authz.Decision{Allow: false, Enforced: false, Rule: -1, Reason: noSource}); d != want {
		t.Errorf("denied in dry-run: %+v, want %+v", d, want)
	}
	if d.Refuse() {
		t.Error("Refuse() = true in dry-run")
	}
	d = p.Decide(orders, "GET", "/api/x", nil)
	if want := (authz.Decision{Allow: true, Enforced: false, Rule: 0}); d != want {
		t.Errorf("allowed in dry-run: %+v, want %+v", d, want)
	}
	if m := mustCompile(t, strict).Mode(); m != authz.Enforce {
		t.Errorf("empty mode compiles to %q, want %q", m, authz.Enforce)
	}
}

// TestForeignReasonsBounded checks that the per-trust-domain reasons stay
// correct past the number a Policy keeps ready.
func TestForeignReasonsBounded(t *testing.T) {
	p := mustCompile(t, authz.Config{})
	for i := range 100 {
		td := fmt.Sprintf("td%d.example", i)
		d := p.Decide(id("spiffe://"+td+"/w"), "GET", "/", nil)
		if d.Allow {
			t.Fatalf("peer of %s allowed", td)
		}
		specific := "peer from trust domain " + td + ": allow it with a rule naming its SPIFFE ID"
		generic := "peer from another trust domain: allow it with a rule naming its SPIFFE ID"
		if d.Reason != specific && !(i >= 64 && d.Reason == generic) {
			t.Fatalf("reason for %s = %q", td, d.Reason)
		}
	}
	if d := p.Decide(id("spiffe://td0.example/w"), "GET", "/", nil); d.Reason != "peer from trust domain td0.example: allow it with a rule naming its SPIFFE ID" {
		t.Errorf("cached reason = %q", d.Reason)
	}
}

// TestDecideConcurrent runs Decide from many goroutines, for the race
// detector, including first denials of new trust domains.
func TestDecideConcurrent(t *testing.T) {
	p := mustCompile(t, shop)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				foreign := id(fmt.Sprintf("spiffe://td%d.example/w", (g+i)%20))
				if d := p.Decide(foreign, "GET", "/healthz", nil); d.Allow {
					errs <- "foreign peer allowed"
					return
				}
				if d := p.Decide(orders, "GET", "/charge", nil); !d.Allow {
					errs <- "orders denied: " + d.Reason
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDecideAllocs(t *testing.T) {
	p := mustCompile(t, benchConfig)
	for _, tc := range benchCases {
		p.Decide(tc.peer, tc.method, tc.path, nil) // first sight of a foreign domain
		if n := testing.AllocsPerRun(100, func() { p.Decide(tc.peer, tc.method, tc.path, nil) }); n != 0 {
			t.Errorf("%s: %v allocs per Decide, want 0", tc.name, n)
		}
	}
}
