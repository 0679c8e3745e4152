package policy

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/security/extauthz"
)

// jwksDoc is a key set with one usable RSA key.
const jwksDoc = `{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","e":"AQAB",` +
	`"n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}`

const endUserHead = "version: 1\nservices:\n  payments:\n    inbound:\n"

func TestEndUserPolicy(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "jwks.json", jwksDoc)
	src := `version: 1
mesh: {name: shop}
services:
  payments:
    subsets: {v1: {version: v1}, v2: {version: v2}}
    routes:
      - {name: beta, match: {claims: {plan: beta, groups: [staff, admins]}}, to: {v2: 1}}
    inbound:
      jwt:
        issuers:
          - {issuer: "https://id.example/", audiences: [payments], jwks: {file: jwks.json}, algorithms: [RS256]}
          - {issuer: "https://other.example/", audiences: [payments], jwks: {url: "https://other.example/jwks"}}
        from: [{header: Authorization}, {cookie: session}]
        clockSkew: 10s
        logClaims: [sub]
      authorization:
        rules:
          - {paths: ["/orders/*"], claims: {scope: orders.read, level: [3], admin: true}}
      extAuthz:
        opa: {url: "http://127.0.0.1:8181", path: weft/authz/allow}
        timeout: 300ms
        failureMode: allow
        headers: [x-tenant]
        cacheTTL: 5s
`
	p, err := Parse(filepath.Join(dir, "mesh.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	in := p.Services["payments"].Inbound
	j := in.JWT
	if j == nil || len(j.Issuers) != 2 || j.Issuers[0].JWKS.File != filepath.Join(dir, "jwks.json") || j.ClockSkew != 10*time.Second {
		t.Errorf("jwt %+v", j)
	}
	rule := in.Authorization.Rules[0]
	if !slices.Equal(rule.Claims["scope"], []string{"orders.read"}) || !slices.Equal(rule.Claims["level"], []string{"3"}) || !slices.Equal(rule.Claims["admin"], []string{"true"}) {
		t.Errorf("rule claims %v", rule.Claims)
	}
	if got := p.Services["payments"].Routes[0].Match.Claims; !slices.Equal(got["plan"], []string{"beta"}) || !slices.Equal(got["groups"], []string{"staff", "admins"}) {
		t.Errorf("route claims %v", got)
	}
	x := in.ExtAuthz
	if x == nil || x.OPA == nil || x.FailureMode != extauthz.FailAllow || x.CacheTTL != 5*time.Second || x.Timeout != 300*time.Millisecond {
		t.Errorf("extAuthz %+v", x)
	}
}

func TestEndUserErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"no audience", endUserHead + "      jwt: {issuers: [{issuer: x, jwks: {url: \"https://x/\"}}]}\n",
			[]string{"5:23: services.payments.inbound.jwt.issuers[0].audiences: required"}},
		{"alg none", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}, algorithms: [none]}]}\n",
			[]string{`services.payments.inbound.jwt.issuers[0].algorithms[0]: "none" means an unsigned token`}},
		{"http jwks", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"http://x/k\"}}]}\n",
			[]string{"5:63: services.payments.inbound.jwt.issuers[0].jwks.url: \"http://x/k\": keys must be fetched over https"}},
		{"missing key file", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {file: nope.json}}]}\n",
			[]string{"5:64: services.payments.inbound.jwt.issuers[0].jwks.file: jwks.file: open "}},
		{"keyless key file", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {file: " + bad + "}}]}\n",
			[]string{"services.payments.inbound.jwt.issuers[0].jwks.file: " + bad + ": no usable key (keys[0]: a symmetric (oct) key"}},
		{"missing ca", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\", ca: nope.pem}}]}\n",
			[]string{"services.payments.inbound.jwt.issuers[0].jwks.ca: open "}},
		{"claims without jwt", endUserHead + "      authorization: {rules: [{claims: {sub: alice}}]}\n",
			[]string{"5:40: services.payments.inbound.authorization.rules[0].claims: only requests with a verified end-user token have claims, and payments authenticates none: configure services.payments.inbound.jwt"}},
		{"claims with an empty value list", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}]}\n      authorization: {rules: [{claims: {sub: []}}]}\n",
			[]string{"services.payments.inbound.authorization.rules[0].claims.sub: lists no value"}},
		{"claims with a mapping", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}]}\n      authorization: {rules: [{claims: {sub: {a: b}}}]}\n",
			[]string{"6:46: services.payments.inbound.authorization.rules[0].claims.sub: expected a value or a list of values"}},
		{"rules with from need mTLS", "version: 1\nservices:\n  orders: {}\n  payments:\n    inbound:\n      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}]}\n      authorization: {rules: [{from: [orders], claims: {sub: alice}}]}\n",
			[]string{"7:22: services.payments.inbound.authorization: rules need verified callers"}},
		{"route claims", "version: 1\nservices:\n  payments:\n    routes: [{match: {claims: {plan: []}}}]\n",
			[]string{"services.payments.routes[0].match.claims.plan: lists no value"}},
		{"both ext authz protocols", endUserHead + "      extAuthz: {envoy: {address: \"a:1\"}, opa: {url: \"http://a\", path: p}}\n",
			[]string{"services.payments.inbound.extAuthz.opa: set envoy or opa, not both"}},
		{"bad failure mode", endUserHead + "      extAuthz: {envoy: {address: \"a:1\"}, failureMode: open}\n",
			[]string{`5:56: services.payments.inbound.extAuthz.failureMode: "open" is not a failure mode`}},
		{"unknown key", endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}], requried: true}\n",
			[]string{`unknown key "requried" in services.payments.inbound.jwt`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.src)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if got := errs[i].Error(); !strings.Contains(got, w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

// TestClaimsRulesWithoutMTLS checks that a service without identities can
// have rules on claims alone.
func TestClaimsRulesWithoutMTLS(t *testing.T) {
	src := endUserHead + "      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}]}\n      authorization: {rules: [{claims: {sub: alice}}]}\n"
	if _, err := Parse("mesh.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

// TestEndUserReloadsLive checks that jwt and extAuthz changes need no
// restart.
func TestEndUserReloadsLive(t *testing.T) {
	a, err := Parse("mesh.yaml", []byte("version: 1\nservices:\n  payments: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("mesh.yaml", []byte(endUserHead+"      jwt: {issuers: [{issuer: x, audiences: [a], jwks: {url: \"https://x/\"}}]}\n      extAuthz: {envoy: {address: \"a:1\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckReload(a, b); err != nil {
		t.Errorf("CheckReload: %v", err)
	}
}
