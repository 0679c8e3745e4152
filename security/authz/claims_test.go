package authz_test

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.yaml.in/yaml/v4"

	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/claims"
)

const (
	noToken  = "no end-user token: the request carried no verified token"
	noClaims = "end-user claims not allowed"
)

func user(t testing.TB, payload string) *claims.Set {
	t.Helper()
	s, err := claims.Parse([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withClaims has rules on claims alone and on claims with a source.
var withClaims = authz.Config{Rules: []authz.Rule{
	0: {From: []string{"orders"}, Paths: []string{"/admin/*"}, Claims: map[string][]string{"groups": {"admins"}}},
	1: {Methods: []string{"GET"}, Paths: []string{"/orders/*"}, Claims: map[string][]string{"scope": {"orders.read"}, "iss": {"https://id.example/"}}},
	2: {From: []string{"checkout"}, Paths: []string{"/charge"}},
}}

func TestDecideClaims(t *testing.T) {
	p := mustCompile(t, withClaims)
	admin := user(t, `{"iss":"https://id.example/","sub":"alice","groups":["admins"],"scope":"orders.read"}`)
	reader := user(t, `{"iss":"https://id.example/","sub":"bob","groups":["users"],"scope":"orders.read profile"}`)
	otherIssuer := user(t, `{"iss":"https://evil.example/","scope":"orders.read"}`)
	for _, tc := range []struct {
		name   string
		peer   spiffeid.ID
		method string
		path   string
		user   *claims.Set
		rule   int
		reason string
	}{
		{"source and claims", orders, "POST", "/admin/x", admin, 0, ""},
		{"source without token", orders, "POST", "/admin/x", nil, -1, noToken},
		{"source with other claims", orders, "POST", "/admin/x", reader, -1, noClaims},
		{"claims without the source", checkout, "POST", "/admin/x", admin, -1, noPath},
		{"claims-only rule, no peer", nobody, "GET", "/orders/1", reader, 1, ""},
		{"claims-only rule, any peer", other, "GET", "/orders/1", reader, 1, ""},
		{"claims-only rule, foreign peer", ledger, "GET", "/orders/1", reader, 1, ""},
		{"claims-only rule, no token", nobody, "GET", "/orders/1", nil, -1, noToken},
		{"claims-only rule, wrong issuer", nobody, "GET", "/orders/1", otherIssuer, -1, noClaims},
		{"claims-only rule, method", nobody, "POST", "/orders/1", reader, -1, noMethod},
		{"no peer, no claims rule for the path", nobody, "GET", "/charge", reader, -1, noPath},
		{"rule without claims ignores them", checkout, "GET", "/charge", admin, 2, ""},
	} {
		d := p.Decide(tc.peer, tc.method, tc.path, tc.user)
		want := authz.Decision{Allow: tc.reason == "", Enforced: true, Rule: tc.rule, Reason: tc.reason}
		if d != want {
			t.Errorf("%s: %+v, want %+v", tc.name, d, want)
		}
	}

	dry := withClaims
	dry.Mode = authz.DryRun
	if d := mustCompile(t, dry).Decide(orders, "POST", "/admin/x", reader); d.Allow || d.Enforced || d.Reason != noClaims || d.Refuse() {
		t.Errorf("dry-run: %+v", d)
	}
}

// TestScopeRulesReadScp checks that a rule on scope is met by a token
// that carries its scopes in scp, as ORY Hydra issues them, and the other
// way round.
func TestScopeRulesReadScp(t *testing.T) {
	for _, name := range []string{"scope", "scp"} {
		p := mustCompile(t, authz.Config{Rules: []authz.Rule{{Paths: []string{"/orders/*"}, Claims: map[string][]string{name: {"orders.read"}}}}})
		for _, tok := range []string{`{"scope":"profile orders.read"}`, `{"scp":["profile","orders.read"]}`, `{"scp":"orders.read"}`} {
			if d := p.Decide(nobody, "GET", "/orders/1", user(t, tok)); !d.Allow {
				t.Errorf("rule on %s, token %s: %+v", name, tok, d)
			}
		}
		if d := p.Decide(nobody, "GET", "/orders/1", user(t, `{"scope":"profile","scp":["orders.write"]}`)); d.Allow || d.Reason != noClaims {
			t.Errorf("rule on %s, token without the scope: %+v", name, d)
		}
	}
}

// TestClaimsWithoutTrustDomain checks that a service without identities
// can have rules on claims alone, and only those.
func TestClaimsWithoutTrustDomain(t *testing.T) {
	onlyClaims := authz.Config{Rules: []authz.Rule{{Claims: map[string][]string{"sub": {"alice"}}}}}
	if onlyClaims.NeedsPeers() || !onlyClaims.UsesClaims() {
		t.Error("a claims-only rule set needs peers, or uses no claims")
	}
	p, err := authz.Compile(onlyClaims, spiffeid.TrustDomain{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(nobody, "GET", "/", user(t, `{"sub":"alice"}`)); !d.Allow {
		t.Errorf("alice: %+v", d)
	}
	if d := p.Decide(nobody, "GET", "/", user(t, `{"sub":"mallory"}`)); d.Allow || d.Reason != noClaims {
		t.Errorf("mallory: %+v", d)
	}
	if !withClaims.NeedsPeers() {
		t.Error("rules with from need peers")
	}
	if _, err := authz.Compile(withClaims, spiffeid.TrustDomain{}, idOf); err == nil {
		t.Error("rules with from compiled without a trust domain")
	}
}

func TestClaimsInYAML(t *testing.T) {
	var c authz.Config
	doc := `rules: [{paths: ["/orders/*"], claims: {scope: [orders.read], groups: [admins, ops]}}]`
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, c)
	if d := p.Decide(nobody, "GET", "/orders/1", user(t, `{"scope":"orders.read","groups":["ops"]}`)); !d.Allow {
		t.Errorf("%+v", d)
	}
}

func TestValidateClaims(t *testing.T) {
	c := authz.Config{Rules: []authz.Rule{{}, {Claims: map[string][]string{"groups": {}, "scope": {"a b"}}}}}
	err := c.Validate()
	for _, want := range []string{"authz: rules[1].claims.groups: lists no value", `authz: rules[1].claims.scope[0]: "a b": a scope value is one scope`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}

func TestDecideClaimsDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, withClaims)
	u := user(t, `{"iss":"https://id.example/","groups":["admins"],"scope":"orders.read"}`)
	if n := testing.AllocsPerRun(100, func() {
		p.Decide(orders, "POST", "/admin/x", u)
		p.Decide(nobody, "GET", "/orders/1", u)
		p.Decide(nobody, "GET", "/orders/1", nil)
	}); n != 0 {
		t.Errorf("Decide with claims allocates %v times", n)
	}
}
