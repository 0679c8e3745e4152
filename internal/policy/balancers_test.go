package policy

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
)

// The balancers the policy accepts, those docs/POLICY.md documents and
// those the engine registers are the same, in the same order.
func TestBalancerNamesAgree(t *testing.T) {
	var builtin []string
	for _, b := range engine.Builtin {
		builtin = append(builtin, b.Name())
	}
	if got := resilience.Names(); !slices.Equal(got, builtin) {
		t.Errorf("registry %v, engine's built-in balancers %v", got, builtin)
	}
	doc, err := os.ReadFile("../../docs/POLICY.md")
	if err != nil {
		t.Fatal(err)
	}
	// The rows of the balancer table: | `name` | what it does |
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ").FindAllStringSubmatch(string(doc), -1) {
		if _, ok := resilience.Lookup(m[1]); ok || slices.Contains(builtin, m[1]) {
			documented = append(documented, m[1])
		}
	}
	if !slices.Equal(documented, builtin) {
		t.Errorf("docs/POLICY.md documents balancers %v, the engine offers %v", documented, builtin)
	}
	for _, name := range builtin {
		if _, err := Parse("", []byte("version: 1\ndefaults: {loadBalancer: "+name+hashKeyFor(name)+"}\n")); err != nil {
			t.Errorf("the policy refuses the registered balancer %s: %v", name, err)
		}
	}
	if _, err := Parse("", []byte("version: 1\ndefaults: {loadBalancer: fastest}\n")); err == nil {
		t.Error("the policy accepts a balancer nobody registered")
	}
}

func hashKeyFor(name string) string {
	b, _ := resilience.Lookup(name)
	if _, ok := b.(resilience.Hashing); ok {
		return ", hashKey: {header: x-user}"
	}
	return ""
}
