package claims_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/weftmesh/weft/security/claims"
)

func TestRequirementMatch(t *testing.T) {
	user := mustParse(t, `{"iss":"https://id.example","sub":"alice","plan":"beta","groups":["admins","ops"],"scope":"orders.read orders.write","scp":["x"],"level":3,"verified":true}`)
	for _, tc := range []struct {
		name string
		cond map[string][]string
		want bool
	}{
		{"string equal", map[string][]string{"sub": {"alice"}}, true},
		{"string other", map[string][]string{"sub": {"bob"}}, false},
		{"one of values", map[string][]string{"plan": {"gold", "beta"}}, true},
		{"array element", map[string][]string{"groups": {"ops"}}, true},
		{"array missing", map[string][]string{"groups": {"dev"}}, false},
		{"scope word", map[string][]string{"scope": {"orders.write"}}, true},
		{"scope prefix is no word", map[string][]string{"scope": {"orders"}}, false},
		{"scp array", map[string][]string{"scp": {"x"}}, true},
		{"number", map[string][]string{"level": {"3"}}, true},
		{"bool", map[string][]string{"verified": {"true"}}, true},
		{"all conditions", map[string][]string{"iss": {"https://id.example"}, "groups": {"admins"}, "plan": {"beta"}}, true},
		{"one condition fails", map[string][]string{"iss": {"https://id.example"}, "groups": {"admins"}, "plan": {"gold"}}, false},
		{"absent claim", map[string][]string{"tenant": {"a"}}, false},
		{"case sensitive", map[string][]string{"sub": {"Alice"}}, false},
	} {
		r, err := claims.Compile(tc.cond)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := r.Match(user); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
		if r.Match(nil) {
			t.Errorf("%s: a request without claims matched", tc.name)
		}
	}
	var none *claims.Requirement
	if !none.Match(nil) || !none.Match(user) || none.Len() != 0 {
		t.Error("a nil Requirement places a condition")
	}
	if r, err := claims.Compile(nil); r != nil || err != nil {
		t.Errorf("Compile(nil) = %v, %v", r, err)
	}
}

// TestScopeOrScp checks that a condition on scope or scp is met by a
// scope the token lists in either claim, as a string or an array: issuers
// use either name (Hydra issues scp).
func TestScopeOrScp(t *testing.T) {
	tokens := map[string]*claims.Set{
		"scope string": mustParse(t, `{"scope":"orders.read orders.write"}`),
		"scope array":  mustParse(t, `{"scope":["orders.read","orders.write"]}`),
		"scp string":   mustParse(t, `{"scp":"orders.read orders.write"}`),
		"scp array":    mustParse(t, `{"scp":["orders.read","orders.write"]}`),
		"split":        mustParse(t, `{"scope":"orders.read","scp":["orders.write"]}`),
	}
	none := mustParse(t, `{"scope":"profile","scp":["email"],"orders.write":"orders.write","groups":["orders.write"]}`)
	for _, name := range []string{"scope", "scp"} {
		r, err := claims.Compile(map[string][]string{name: {"orders.write"}})
		if err != nil {
			t.Fatal(err)
		}
		for what, tok := range tokens {
			if !r.Match(tok) {
				t.Errorf("%s: orders.write, token with %s: no match", name, what)
			}
		}
		if r.Match(none) {
			t.Errorf("%s: orders.write matched a token without that scope", name)
		}
	}
	both, _ := claims.Compile(map[string][]string{"scope": {"orders.read"}, "scp": {"orders.write"}})
	if !both.Match(tokens["scope string"]) || !both.Match(tokens["split"]) || both.Match(mustParse(t, `{"scp":"orders.read"}`)) {
		t.Error("conditions on scope and scp together must each be met by the token's scopes")
	}
	if n := testing.AllocsPerRun(100, func() { both.Match(tokens["split"]) }); n != 0 {
		t.Errorf("Match on scopes allocates %v times", n)
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    []string
	}{
		{`{"scope":"a b"}`, []string{"a", "b"}},
		{`{"scp":["a","b"]}`, []string{"a", "b"}},
		{`{"scope":"a  b","scp":["b","c","c"]}`, []string{"a", "b", "c"}},
		{`{"scope":"","scp":"x"}`, []string{"x"}},
		{`{"scope":{"a":1},"scp":null}`, nil},
		{`{"sub":"alice"}`, nil},
	} {
		s := mustParse(t, tc.payload)
		if got := s.Scopes(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Scopes() = %q, want %q", tc.payload, got, tc.want)
		}
	}
	var nilSet *claims.Set
	if nilSet.Scopes() != nil {
		t.Error("a nil Set has scopes")
	}
	s := mustParse(t, `{"scope":"a","scp":["b"]}`)
	s.Scopes()[0] = "changed"
	if got := s.Values("scope"); !slices.Equal(got, []string{"a"}) || !slices.Equal(s.Scopes(), []string{"a", "b"}) {
		t.Errorf("Scopes shares its slice: scope %q, scopes %q", got, s.Scopes())
	}
}

func TestRequirementCopiesItsInput(t *testing.T) {
	cond := map[string][]string{"plan": {"beta"}}
	r, _ := claims.Compile(cond)
	cond["plan"][0] = "gold"
	cond["sub"] = []string{"x"}
	if !r.Match(mustParse(t, `{"plan":"beta"}`)) || r.Len() != 1 || r.String() != "plan=beta" {
		t.Errorf("the Requirement follows changes to its input: %s", r)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cond map[string][]string
		want string
	}{
		{map[string][]string{"": {"a"}}, "c: a claim name is empty"},
		{map[string][]string{"plan": {}}, "c.plan: lists no value"},
		{map[string][]string{"plan": {""}}, "c.plan[0]: empty"},
		{map[string][]string{"plan": {"a\nb"}}, "c.plan[0]: \"a\\nb\" contains a control character"},
		{map[string][]string{"a\x00": {"x"}}, "contains a control character"},
		{map[string][]string{"scope": {"a b"}}, "c.scope[0]: \"a b\": a scope value is one scope"},
		{map[string][]string{strings.Repeat("n", 300): {"x"}}, "longer than 256 bytes"},
		{map[string][]string{"v": {strings.Repeat("n", 2000)}}, "c.v[0]: longer than 1024 bytes"},
		{map[string][]string{"v": make([]string, 300)}, "lists 300 values"},
	} {
		got := claims.Validate("c", tc.cond).Error()
		if !strings.Contains(got, tc.want) {
			t.Errorf("Validate(%v) = %q, want it to contain %q", tc.cond, got, tc.want)
		}
		if _, err := claims.Compile(tc.cond); err == nil {
			t.Errorf("Compile(%v) accepted an invalid condition", tc.cond)
		}
	}
	if es := claims.Validate("c", map[string][]string{"groups": {"a", "b"}, "sub": {"x"}}); len(es) != 0 {
		t.Errorf("valid condition: %v", es)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	user := mustParse(t, `{"sub":"alice","groups":["a","b","admins"],"scope":"x y z"}`)
	r, _ := claims.Compile(map[string][]string{"groups": {"admins"}, "scope": {"z"}, "sub": {"alice"}})
	if n := testing.AllocsPerRun(100, func() { r.Match(user) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}
