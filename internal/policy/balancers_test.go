package policy

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
)

// The balancers the policy accepts, those docs/POLICY.md documents and
// those the engine registers are the same, in the same order: a name in
// any one of the three is in the other two.
func TestBalancerNamesAgree(t *testing.T) {
	var builtin []string
	for _, b := range engine.Builtin {
		builtin = append(builtin, b.Name())
	}
	registered := resilience.Names()
	if !slices.Equal(registered, builtin) {
		t.Errorf("registry %v, engine's built-in balancers %v", registered, builtin)
	}
	doc, err := os.ReadFile("../../docs/POLICY.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedBalancers(t, doc)
	if !slices.Equal(documented, builtin) {
		t.Errorf("docs/POLICY.md documents balancers %v, the engine offers %v", documented, builtin)
	}
	for _, name := range documented {
		if !slices.Contains(registered, name) {
			t.Errorf("docs/POLICY.md documents the balancer %s, which nobody registered", name)
		}
	}
	for _, name := range registered {
		if !slices.Contains(documented, name) {
			t.Errorf("the balancer %s is registered but docs/POLICY.md does not document it", name)
		}
	}

	// What the policy accepts: every documented and registered name, and
	// nothing else; its refusal lists the names it accepts.
	for _, name := range slices.Concat(builtin, documented) {
		if _, err := Parse("", []byte("version: 1\ndefaults: {loadBalancer: "+name+hashKeyFor(name)+"}\n")); err != nil {
			t.Errorf("the policy refuses the balancer %s: %v", name, err)
		}
	}
	_, err = Parse("", []byte("version: 1\ndefaults: {loadBalancer: fastest}\n"))
	if err == nil {
		t.Fatal("the policy accepts a balancer nobody registered")
	}
	m := regexp.MustCompile(`use one of ([a-z_, ]+)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("the refusal of an unknown balancer does not list the accepted names: %v", err)
	}
	if accepted := strings.Split(m[1], ", "); !slices.Equal(accepted, documented) {
		t.Errorf("the policy accepts balancers %v, docs/POLICY.md documents %v", accepted, documented)
	}
}

// documentedBalancers returns the names in the first column of the table
// of values of POLICY.md's loadBalancer section, in order. It fails the
// test when it cannot find the table, so that a reworded section is not
// read as one that documents nothing.
func documentedBalancers(t *testing.T, doc []byte) []string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(doc))
	row := regexp.MustCompile("^\\| `([^`]*)` \\|")
	var names []string
	section, table, code := false, false, false
scan:
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			code = !code
		case code:
		case strings.HasPrefix(line, "#"):
			if table {
				break scan
			}
			section = strings.HasPrefix(line, "#### services.\\<name\\>.loadBalancer")
		case !section:
		case strings.HasPrefix(line, "| Value |"):
			table = true
		case !table, strings.HasPrefix(line, "|---"):
		case strings.HasPrefix(line, "|"):
			m := row.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("docs/POLICY.md: a row of the balancer table does not start with a name in backquotes: %s", line)
			}
			names = append(names, m[1])
		default:
			break scan
		}
	}
	if len(names) == 0 {
		t.Fatal("docs/POLICY.md: no table of balancers under the loadBalancer section")
	}
	return names
}

func hashKeyFor(name string) string {
	b, _ := resilience.Lookup(name)
	if _, ok := b.(resilience.Hashing); ok {
		return ", hashKey: {header: x-user}"
	}
	return ""
}
