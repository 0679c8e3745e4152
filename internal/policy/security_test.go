package policy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftmesh/weft/security"
)

const secureHead = "version: 1\nmesh: {name: shop, trustDomain: example.org}\nsecurity:\n  identity: {dev: {ca: ./ca}}\n"

func TestSecurityChecks(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"identity without a trust domain", "version: 1\nsecurity:\n  identity: {dev: {ca: ./ca}}\n",
			[]string{"3:13: security.identity: needs mesh.trustDomain"}},
		{"two providers", "version: 1\nmesh: {trustDomain: example.org}\nsecurity:\n  identity: {dev: {ca: ./ca}, spiffe: {socket: \"unix:///a.sock\"}}\n",
			[]string{"4:13: security.identity: names 2 providers"}},
		{"a mode needing an identity", "version: 1\nservices:\n  a: {mtls: permissive}\n",
			[]string{"3:13: services.a.mtls: permissive needs an identity"}},
		{"a bad mode", secureHead + "services:\n  a: {mtls: sometimes}\n",
			[]string{`6:13: services.a.mtls: "sometimes" is not an mTLS mode`}},
		{"a bad template", secureHead + "  idTemplate: \"spiffe://{trustDomain}/svc\"\n",
			[]string{"5:15: security.idTemplate: ID template \"spiffe://{trustDomain}/svc\" must contain {service} exactly once"}},
		{"an unknown source", secureHead + "services:\n  orders: {}\n  payments:\n    inbound: {authorization: {rules: [{from: [ordrs]}]}}\n",
			[]string{`8:47: services.payments.inbound.authorization.rules[0].from[0]: unknown service "ordrs": name it under services, or use its SPIFFE ID; did you mean "orders"?`}},
		{"a malformed SPIFFE ID", secureHead + "services:\n  payments:\n    inbound: {authorization: {rules: [{from: [\"spiffe://Example.org/x\"]}]}}\n",
			[]string{`7:47: services.payments.inbound.authorization.rules[0].from[0]: "spiffe://Example.org/x"`}},
		{"rules without mTLS", "version: 1\nservices:\n  orders: {}\n  payments:\n    inbound: {authorization: {rules: [{from: [orders]}]}}\n",
			[]string{"5:30: services.payments.inbound.authorization: rules need verified callers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.src)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, "mesh.yaml:"+w) {
					t.Errorf("error %d = %q, want prefix %q", i, got, "mesh.yaml:"+w)
				}
			}
		})
	}
}

func TestSecurityDefaults(t *testing.T) {
	p, err := Parse("/etc/weft/mesh.yaml", []byte(secureHead+"services:\n  legacy: {mtls: permissive}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Security.Identity.Dev.CA; got != filepath.FromSlash("/etc/weft/ca") {
		t.Errorf("dev CA %q, want it relative to the policy file", got)
	}
	if p.MTLS("payments") != security.Strict || p.MTLS("legacy") != security.Permissive {
		t.Errorf("modes %s and %s, want strict and permissive", p.MTLS("payments"), p.MTLS("legacy"))
	}
	tmpl, ok := p.IDTemplate()
	if id, err := tmpl.ID("payments"); !ok || err != nil || id.String() != "spiffe://example.org/svc/payments" {
		t.Errorf("template gives %v, %v, %v", id, ok, err)
	}
	if Default().MTLS("x") != security.Disabled {
		t.Error("without a policy, mTLS is not disabled")
	}
}

func TestSecurityReload(t *testing.T) {
	parse := func(src string) *Policy {
		t.Helper()
		p, err := Parse("mesh.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := parse(secureHead)
	if err := CheckReload(old, parse(secureHead+"  mtls: permissive\n")); err != nil {
		t.Errorf("a mode change needs no restart, got %v", err)
	}
	err := CheckReload(old, parse("version: 1\nmesh: {name: shop, trustDomain: example.org}\nsecurity:\n  identity: {dev: {ca: ./other}}\n"))
	if err == nil || !strings.Contains(err.Error(), "security.identity: changed, which requires a restart") {
		t.Errorf("identity change: %v", err)
	}
}
