package claims_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/security/claims"
)

func mustParse(t testing.TB, payload string) *claims.Set {
	t.Helper()
	s, err := claims.Parse([]byte(payload))
	if err != nil {
		t.Fatalf("Parse(%s): %v", payload, err)
	}
	return s
}

func TestParseRegisteredClaims(t *testing.T) {
	s := mustParse(t, `{"iss":"https://id.example","sub":"alice","aud":["payments","orders"],"exp":2000000000,"nbf":1700000000.5,"iat":1700000000}`)
	if s.Issuer() != "https://id.example" || s.Subject() != "alice" {
		t.Errorf("iss %q sub %q", s.Issuer(), s.Subject())
	}
	if got := s.Audience(); !slices.Equal(got, []string{"payments", "orders"}) {
		t.Errorf("aud %v", got)
	}
	if !s.Expiry().Equal(time.Unix(2000000000, 0)) || !s.IssuedAt().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("exp %v iat %v", s.Expiry(), s.IssuedAt())
	}
	if !s.NotBefore().Equal(time.Unix(1700000000, 5e8)) {
		t.Errorf("nbf %v", s.NotBefore())
	}
	one := mustParse(t, `{"aud":"payments"}`)
	if got := one.Audience(); !slices.Equal(got, []string{"payments"}) {
		t.Errorf("single aud %v", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{``, "not JSON"},
		{`[]`, "not a JSON object"},
		{`"x"`, "not a JSON object"},
		{`{"sub":"a","sub":"b"}`, `"sub" appears twice`},
		{`{"sub":1}`, "sub is not a string"},
		{`{"iss":["a"]}`, "iss is not a string"},
		{`{"aud":1}`, "aud is neither"},
		{`{"aud":[1]}`, "aud is neither"},
		{`{"exp":"tomorrow"}`, "exp is not a time"},
		{`{"nbf":-1}`, "nbf is not a time"},
		{`{"iat":1e300}`, "iat is not a time"},
		{`{"sub":"a"} {}`, "data after"},
		{`{"sub":"a"`, "not JSON"},
		{`{"sub":"a",}`, "not JSON"},
		{`{` + strings.Repeat(" ", 70<<10) + `}`, "exceeds"},
	} {
		if _, err := claims.Parse([]byte(tc.payload)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want an error containing %q", tc.payload, err, tc.want)
		}
	}
}

func TestValues(t *testing.T) {
	s := mustParse(t, `{"sub":"alice","plan":"beta","groups":["admins","ops",3,true,null,{"x":1},["n"]],
		"scope":"orders.read  orders.write","scp":["a","b"],"age":42,"verified":true,"obj":{"a":"b"},"nil":null,"desc":"two words"}`)
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"sub", []string{"alice"}},
		{"plan", []string{"beta"}},
		{"groups", []string{"admins", "ops", "3", "true"}},
		{"scope", []string{"orders.read", "orders.write"}},
		{"scp", []string{"a", "b"}},
		{"age", []string{"42"}},
		{"verified", []string{"true"}},
		{"obj", nil},
		{"nil", nil},
		{"desc", []string{"two words"}},
		{"absent", nil},
	} {
		if got := s.Values(tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("Values(%q) = %q, want %q", tc.name, got, tc.want)
		}
		for _, v := range tc.want {
			if !s.Has(tc.name, v) {
				t.Errorf("Has(%q, %q) = false", tc.name, v)
			}
		}
	}
	if s.Has("desc", "two") {
		t.Error(`a claim other than scope/scp is not split into words`)
	}
	if v, ok := s.String("scope"); !ok || v != "orders.read  orders.write" {
		t.Errorf("String(scope) = %q, %v", v, ok)
	}
	if _, ok := s.String("age"); ok {
		t.Error("String of a number claim reports ok")
	}
	if raw, ok := s.Raw("obj"); !ok || string(raw) != `{"a":"b"}` {
		t.Errorf("Raw(obj) = %s, %v", raw, ok)
	}
	if got := s.Names(); !slices.IsSorted(got) || len(got) != 10 {
		t.Errorf("Names() = %v", got)
	}
}

func TestSetIsImmutable(t *testing.T) {
	payload := []byte(`{"groups":["admins"],"aud":["a"]}`)
	s := mustParse(t, payload2string(payload))
	payload[3] = 'X'
	s.Values("groups")[0] = "changed"
	s.Audience()[0] = "changed"
	raw, _ := s.Raw("groups")
	raw[2] = 'X'
	s.JSON()[0] = 'X'
	if !s.Has("groups", "admins") || s.Audience()[0] != "a" || string(s.JSON()) != `{"groups":["admins"],"aud":["a"]}` {
		t.Error("changing returned values changed the Set")
	}
}

func payload2string(b []byte) string { return string(b) }

func TestDigest(t *testing.T) {
	a, b := mustParse(t, `{"sub":"a"}`), mustParse(t, `{"sub":"a"}`)
	c := mustParse(t, `{"sub":"b"}`)
	if a.Digest() != b.Digest() || a.Digest() == c.Digest() || len(a.Digest()) != 64 {
		t.Errorf("digests %s %s %s", a.Digest(), b.Digest(), c.Digest())
	}
}

func TestNilSet(t *testing.T) {
	var s *claims.Set
	if s.Subject() != "" || s.Issuer() != "" || s.Audience() != nil || !s.Expiry().IsZero() || s.Has("a", "b") ||
		s.Values("a") != nil || s.Names() != nil || string(s.JSON()) != "{}" || s.Digest() != "" {
		t.Error("a nil Set holds something")
	}
	if _, ok := s.String("a"); ok {
		t.Error("nil Set String ok")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := claims.FromContext(ctx); ok {
		t.Error("empty context carries claims")
	}
	s := mustParse(t, `{"sub":"a"}`)
	got, ok := claims.FromContext(claims.NewContext(ctx, s))
	if !ok || got != s {
		t.Errorf("FromContext = %v, %v", got, ok)
	}
	if _, ok := claims.FromContext(claims.NewContext(ctx, nil)); ok {
		t.Error("a nil Set in the context counts as claims")
	}
}
