package authz_test

import (
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/weftmesh/weft/security/authz"
)

// TestDecodeYAML decodes the policy section as written in a policy file.
func TestDecodeYAML(t *testing.T) {
	const doc = `
mode: dry-run
rules:
  - from: [orders, "spiffe://example.org/ns/batch/*"]
    methods: [GET, POST]
    paths: ["/charge", "/refunds/*"]
  - from: [checkout]
    paths: ["/shop.Payments/*"]
`
	var c authz.Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, c)
	if p.Mode() != authz.DryRun || p.Rules() != 2 {
		t.Fatalf("Mode() = %q, Rules() = %d", p.Mode(), p.Rules())
	}
	if d := p.Decide(batchJob, "POST", "/refunds/9", nil); !d.Allow || d.Rule != 0 {
		t.Errorf("batch job refund: %+v", d)
	}
	if d := p.Decide(checkout, "POST", "/charge", nil); d.Allow || d.Reason != noPath || d.Enforced {
		t.Errorf("checkout charge: %+v", d)
	}
}

// TestEmptyListsInYAML checks that `methods: []` and friends mean "any",
// like omitted keys.
func TestEmptyListsInYAML(t *testing.T) {
	var c authz.Config
	if err := yaml.Unmarshal([]byte("rules: [{from: [], methods: [], paths: []}]"), &c); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, c)
	if d := p.Decide(other, "PATCH", "/x", nil); !d.Allow {
		t.Errorf("empty lists: %+v", d)
	}
	if d := p.Decide(billing, "PATCH", "/x", nil); d.Allow {
		t.Errorf("empty from admitted a foreign peer: %+v", d)
	}
}
