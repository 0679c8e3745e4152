package claims_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/weftmesh/weft/security/claims"
)

// FuzzParse feeds arbitrary payloads to Parse: it never panics, and what
// it accepts is a JSON object whose claims read back consistently.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://id.example","sub":"alice","aud":["a","b"],"exp":2000000000}`,
		`{"scope":"a b  c","scp":["x"],"groups":["g",1,true,null,{}]}`,
		`{"sub":"a","sub":"b"}`, `{"aud":1}`, `{"exp":1e400}`, `[]`, `{}`, ``, `{"a":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		s, err := claims.Parse(payload)
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a Set with an error")
			}
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(payload, &obj); err != nil {
			t.Fatalf("Parse accepted what encoding/json refuses: %v", err)
		}
		names := s.Names()
		if len(names) != len(obj) {
			t.Fatalf("Names() = %d names, the object has %d", len(names), len(obj))
		}
		for _, n := range names {
			for _, v := range s.Values(n) {
				if !s.Has(n, v) {
					t.Fatalf("Values(%q) lists %q but Has says no", n, v)
				}
			}
			if str, ok := s.String(n); ok && !strings.HasPrefix(strings.TrimSpace(string(obj[n])), `"`) {
				t.Fatalf("String(%q) = %q for a non-string claim", n, str)
			}
		}
		for _, n := range []string{"scope", "scp"} {
			for _, v := range s.Values(n) {
				if !slices.Contains(s.Scopes(), v) {
					t.Fatalf("%s holds %q, which Scopes() = %q lacks", n, v, s.Scopes())
				}
			}
		}
		if len(s.Digest()) != 64 {
			t.Fatalf("digest %q", s.Digest())
		}
	})
}

// naiveMatch is the reference for Requirement.Match, written from the
// documentation: every named claim holds one of its values, and scope and
// scp both name the token's scopes.
func naiveMatch(cond map[string][]string, s *claims.Set) bool {
	for name, want := range cond {
		held := s.Values(name)
		if name == "scope" || name == "scp" {
			held = append(s.Values("scope"), s.Values("scp")...)
		}
		if !slices.ContainsFunc(want, func(v string) bool { return slices.Contains(held, v) }) {
			return false
		}
	}
	return true
}

// FuzzRequirement matches arbitrary claims against arbitrary conditions
// and compares Requirement.Match with the reference.
func FuzzRequirement(f *testing.F) {
	f.Add(`{"groups":["admins","ops"],"plan":"beta"}`, "groups", "admins", "plan", "beta")
	f.Add(`{"scope":"a b c"}`, "scope", "b", "scope", "d")
	f.Add(`{"scope":"a","scp":["b"]}`, "scp", "a", "scope", "b")
	f.Add(`{"n":3,"b":false}`, "n", "3", "b", "false")
	f.Add(`{"x":{"y":"z"}}`, "x", "z", "x", "y")
	f.Fuzz(func(t *testing.T, payload, n1, v1, n2, v2 string) {
		s, err := claims.Parse([]byte(payload))
		if err != nil {
			return
		}
		cond := map[string][]string{n1: {v1}}
		cond[n2] = append(cond[n2], v2)
		r, err := claims.Compile(cond)
		if err != nil {
			if len(claims.Validate("claims", cond)) == 0 {
				t.Fatalf("Compile refused a condition Validate accepts: %v", err)
			}
			return
		}
		if got, want := r.Match(s), naiveMatch(cond, s); got != want {
			t.Fatalf("Match(%v) on %s = %v, reference says %v", cond, payload, got, want)
		}
		if r.Match(nil) {
			t.Fatal("a request without claims matched a condition")
		}
	})
}
