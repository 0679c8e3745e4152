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
	f.Fuzz(func(t *testing.T, a, b, host string) {
		p := newEgressPolicy(EgressConfig{Allow: []string{a, b}})
		got := p.allows(host)
		h := strings.ToLower(host)
		want := false
		for _, entry := range []string{a, b} {
			entry = strings.ToLower(entry)
			if suffix, ok := strings.CutPrefix(entry, "*"); ok {
				want = want || (strings.HasSuffix(h, suffix) && len(h) > len(suffix))
			} else {
				want = want || h == entry
			}
		}
		if got != want {
			t.Fatalf("allows(%q) with [%q %q] = %v, want %v", host, a, b, got, want)
		}
		if isASCII(host) && got != p.allows(strings.ToUpper(host)) {
			t.Fatalf("allows(%q) depends on case", host)
		}
	})
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
