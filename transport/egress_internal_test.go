package transport

import (
	"strings"
	"testing"
)

func TestEgressPolicyMatching(t *testing.T) {
	p := newEgressPolicy(EgressConfig{Allow: []string{"api.example.com", "*.svc.example.org"}})
	for host, want := range map[string]bool{
		"api.example.com":         true,
		"API.Example.com":         true,
		"www.example.com":         false,
		"a.svc.example.org":       true,
		"a.b.svc.example.org":     true,
		"svc.example.org":         false, // the wildcard needs a subdomain
		".svc.example.org":        false,
		"evilsvc.example.org":     false,
		"api.example.com.evil.io": false,
	} {
		if got := p.allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
}

func FuzzEgressPolicy(f *testing.F) {
	f.Add("api.example.com", "*.example.com", "a.example.com")
	f.Add("", "*", "x")
	f.Add("*.", "*..", ".")
	f.Fuzz(func(t *testing.T, exact, wildcard, host string) {
		p := newEgressPolicy(EgressConfig{Allow: []string{exact, wildcard}})
		got := p.allows(host)
		h := strings.ToLower(host)
		want := h == strings.ToLower(exact)
		if s, ok := strings.CutPrefix(strings.ToLower(wildcard), "*"); ok {
			want = want || (strings.HasSuffix(h, s) && len(h) > len(s))
		} else {
			want = want || h == strings.ToLower(wildcard)
		}
		if got != want {
			t.Fatalf("allows(%q) with [%q %q] = %v, want %v", host, exact, wildcard, got, want)
		}
	})
}
