package authz

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var fuzzLocal = spiffeid.RequireTrustDomainFromString("example.org")

func fuzzIDOf(service string) (spiffeid.ID, error) {
	return spiffeid.FromSegments(fuzzLocal, "svc", service)
}

// refMatch is the matching rule as the documentation states it.
func refMatch(pat, s string) bool {
	if strings.HasSuffix(pat, "*") {
		return strings.HasPrefix(s, strings.TrimSuffix(pat, "*"))
	}
	return pat == s
}

func refDotted(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func FuzzMatchPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/refunds/*", "/refunds"}, {"/refunds/*", "/refunds/"}, {"/refunds/*", "/refunds/1/x"},
		{"/api*", "/api"}, {"/api*", "/apix"}, {"/charge", "/charge"}, {"/charge", "/charge/"},
		{"/*", "/../x"}, {"/shop.Payments/*", "/shop.Payments/Charge"}, {"*", ""}, {"/a*b", "/ab"},
		{"/a/.*", "/a/.well-known"}, {"/a/.*", "/a/./x"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	peer := spiffeid.RequireFromString("spiffe://example.org/svc/orders")
	f.Fuzz(func(t *testing.T, pat, path string) {
		if got, want := parsePattern(pat).match(path), refMatch(pat, path); got != want {
			t.Fatalf("pattern %q on %q: match = %v, reference %v", pat, path, got, want)
		}
		p, err := Compile(Config{Rules: []Rule{{Paths: []string{pat}}}}, fuzzLocal, nil)
		if (err == nil) != (pathProblem(pat) == "") {
			t.Fatalf("pattern %q: Compile error %v, pathProblem %q", pat, err, pathProblem(pat))
		}
		if err != nil {
			return
		}
		want := refMatch(pat, path) && !(strings.HasSuffix(pat, "*") && refDotted(path))
		if d := p.Decide(peer, "GET", path, nil); d.Allow != want {
			t.Fatalf("pattern %q on %q: Decide = %+v, want allow %v", pat, path, d, want)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("orders", "GET", "/charge", "enforce")
	f.Add("spiffe://example.org/ns/batch/*", "POST", "/refunds/*", "dry-run")
	f.Add("Orders", "get", "/a*b", "audit")
	f.Add("spiffe://x/", "", "*", "")
	f.Add("spiffe://example.org//*", "G ET", "/a/../b", "")
	f.Fuzz(func(t *testing.T, from, method, path, mode string) {
		c := Config{Mode: Mode(mode), Rules: []Rule{
			{From: []string{from}, Methods: []string{method}, Paths: []string{path}},
			{From: []string{from}},
			{Paths: []string{path}},
		}}
		verr := c.Validate()
		p, cerr := Compile(c, fuzzLocal, fuzzIDOf)
		if (verr == nil) != (cerr == nil) {
			t.Fatalf("Validate = %v but Compile = %v", verr, cerr)
		}
		_ = c.UnknownSources(func(string) bool { return false })
		if verr != nil {
			if !strings.HasPrefix(verr.Error(), "authz: ") {
				t.Fatalf("error without package prefix: %v", verr)
			}
			return
		}
		if p.Rules() != 3 {
			t.Fatalf("Rules() = %d", p.Rules())
		}
		peer, err := spiffeid.FromString(from)
		if err != nil {
			peer, _ = fuzzIDOf(from)
		}
		if peer.IsZero() {
			return
		}
		// Rule 0 names exactly this request when the patterns are exact
		// and the path is not a dotted one.
		if strings.HasSuffix(path, "*") || strings.HasSuffix(from, "*") {
			return
		}
		if d := p.Decide(peer, method, path, nil); !d.Allow || d.Rule != 0 {
			t.Fatalf("request matching rule 0 exactly: %+v", d)
		}
	})
}

func FuzzSPIFFEPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"spiffe://example.org/ns/batch/*", "spiffe://example.org/ns/batch/sa/job"},
		{"spiffe://example.org/ns/batch/*", "spiffe://example.org/ns/batchx"},
		{"spiffe://example.org/*", "spiffe://example.org"},
		{"spiffe://example.org*", "spiffe://example.org.evil/x"},
		{"spiffe://partner.net/a*", "spiffe://partner.net/ab"},
		{"spiffe://partner.net", "spiffe://partner.net"},
		{"spiffe://x/", "spiffe://x/y"},
		{"spiffe://*", "spiffe://a/b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, entry, idString string) {
		problem := sourceProblem(entry)
		if !strings.HasPrefix(entry, spiffeScheme) {
			return
		}
		p, err := Compile(Config{Rules: []Rule{{From: []string{entry}}}}, fuzzLocal, nil)
		if (err == nil) != (problem == "") {
			t.Fatalf("entry %q: Compile error %v, sourceProblem %q", entry, err, problem)
		}
		peer, perr := spiffeid.FromString(idString)
		if err != nil || perr != nil {
			return
		}
		d := p.Decide(peer, "GET", "/", nil)
		if want := refMatch(entry, idString); d.Allow != want {
			t.Fatalf("entry %q on %q: Decide = %+v, want allow %v", entry, idString, d, want)
		}
		if !d.Allow {
			return
		}
		// A pattern never spans trust domains: whatever it matches lies
		// in the trust domain it names.
		rest := entry[len(spiffeScheme):]
		td := rest[:strings.IndexAny(rest+"/", "/*")]
		if peer.TrustDomain().Name() != td {
			t.Fatalf("entry %q matched %q of another trust domain", entry, idString)
		}
	})
}
