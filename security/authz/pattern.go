package authz

import (
	"fmt"
	"path"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const spiffeScheme = "spiffe://"

// pattern is a compiled path or SPIFFE ID pattern: an exact string, or a
// prefix when the written pattern ended in '*'.
type pattern struct {
	text   string
	prefix bool
}

// parsePattern compiles a pattern that has been validated; for any other
// string it still returns a pattern, never panicking.
func parsePattern(s string) pattern {
	if strings.HasSuffix(s, "*") {
		return pattern{text: s[:len(s)-1], prefix: true}
	}
	return pattern{text: s}
}

func (p pattern) match(s string) bool {
	if p.prefix {
		return strings.HasPrefix(s, p.text)
	}
	return s == p.text
}

// starSuggestion rewrites a pattern with a misplaced '*' into one that
// ends at the first '*', on a '/' boundary, for error messages.
func starSuggestion(s string) string {
	before := s[:strings.IndexByte(s, '*')]
	if !strings.HasSuffix(before, "/") {
		before += "/"
	}
	return before + "*"
}

// pathProblem says what is wrong with a path pattern, or returns "".
func pathProblem(s string) string {
	switch {
	case s == "":
		return `empty; write a path like "/charge", or leave paths empty to allow any path`
	case s == "*":
		return "a lone '*' is not a path; leave paths empty to allow any path"
	case s[0] != '/':
		return fmt.Sprintf("%s: a path pattern must start with '/', as in %s", quote(s), quote("/"+strings.TrimLeft(s, "*")))
	}
	if i := strings.IndexByte(s, '*'); i >= 0 && i != len(s)-1 {
		return fmt.Sprintf("%s: '*' may only end a path pattern, as in %s", quote(s), quote(starSuggestion(s)))
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return fmt.Sprintf("%s: a path pattern matches the URL path only; remove everything from %q on", quote(s), s[i:i+1])
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("%s: contains a control character; write the path as the server receives it, decoded", quote(s))
		}
	}
	if !cleanPattern(s) {
		return fmt.Sprintf("%s: empty, '.' and '..' segments never match a routed request; write the clean path, as in %s", quote(s), quote(cleanSuggestion(s)))
	}
	return ""
}

// cleanPattern reports whether the segments of a path pattern are free of
// "", "." and "..". The last segment of a prefix pattern is incomplete
// ("/.well*" may become "/.well-known") and the last segment of an exact
// one may be empty (a trailing slash), so those are judged accordingly.
func cleanPattern(s string) bool {
	prefix := strings.HasSuffix(s, "*")
	s = strings.TrimSuffix(s, "*")
	segs := strings.Split(s[1:], "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case last && prefix:
		case seg == "" && !last:
			return false
		case seg == "." || seg == "..":
			return false
		}
	}
	return true
}

// cleanSuggestion returns s with its empty and dot segments resolved, as
// a router would resolve them.
func cleanSuggestion(s string) string {
	star := ""
	if strings.HasSuffix(s, "*") {
		star, s = "*", s[:len(s)-1]
	}
	c := path.Clean(s)
	if strings.HasSuffix(s, "/") && c != "/" {
		c += "/"
	}
	return c + star
}

// hasDotSegment reports whether a request path has a "." or ".." segment.
// Such a path matches no prefix pattern: a router that cleans it would
// serve a path other than the one that matched ("/refunds/../admin").
func hasDotSegment(p string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if seg := p[start:i]; seg == "." || seg == ".." {
			return true
		}
		start = i + 1
	}
	return false
}

// sourceProblem says what is wrong with a From entry, or returns "".
func sourceProblem(s string) string {
	const example = "spiffe://example.org/ns/batch/*"
	switch {
	case s == "":
		return "empty; write a service name like orders or a SPIFFE ID like " + quote(example)
	case strings.HasPrefix(s, spiffeScheme):
		return spiffeProblem(s)
	case strings.Contains(s, "*"):
		return fmt.Sprintf("%s: '*' may only end a SPIFFE ID pattern, as in %s; to allow every caller of the local trust domain, leave from empty", quote(s), quote(example))
	case isServiceName(s):
		return ""
	case isServiceName(strings.ToLower(s)):
		return fmt.Sprintf("%s: not a service name or SPIFFE ID: service names are lowercase; write %s", quote(s), quote(strings.ToLower(s)))
	case strings.Contains(s, "://"):
		return fmt.Sprintf("%s: not a service name or SPIFFE ID: SPIFFE IDs start with %q", quote(s), spiffeScheme)
	}
	return fmt.Sprintf("%s: not a service name or SPIFFE ID: write a service name of 1 to 63 lowercase letters, digits and '-', or a SPIFFE ID like %s", quote(s), quote("spiffe://example.org/ns/batch/sa/worker"))
}

// spiffeProblem checks an entry starting with "spiffe://": an exact ID,
// or a prefix pattern whose fixed part names a whole trust domain, so that
// no pattern can match IDs of two trust domains.
func spiffeProblem(s string) string {
	i := strings.IndexByte(s, '*')
	if i < 0 {
		if _, err := spiffeid.FromString(s); err != nil {
			msg := fmt.Sprintf("%s: not a SPIFFE ID: %v", quote(s), err)
			if trimmed := strings.TrimRight(s, "/"); strings.HasSuffix(s, "/") && len(trimmed) > len(spiffeScheme) {
				msg += fmt.Sprintf("; write %s to allow every ID under it, or %s for this ID alone", quote(trimmed+"/*"), quote(trimmed))
			}
			return msg
		}
		return ""
	}
	if i != len(s)-1 {
		return fmt.Sprintf("%s: '*' may only end a SPIFFE ID pattern, as in %s", quote(s), quote(starSuggestion(s)))
	}
	fixed := s[:i]
	rest := fixed[len(spiffeScheme):]
	if j := strings.IndexByte(rest, '/'); j <= 0 {
		td := rest
		if td == "" {
			td = "example.org"
		}
		return fmt.Sprintf("%s: the part before '*' must be a whole trust domain followed by '/', as in %s", quote(s), quote(spiffeScheme+td+"/*"))
	}
	// Any ID the pattern matches extends fixed; fixed+"x" is the shortest
	// such ID, valid exactly when some ID can match.
	if _, err := spiffeid.FromString(fixed + "x"); err != nil {
		return fmt.Sprintf("%s: no SPIFFE ID can match: %v", quote(s), err)
	}
	return ""
}

// isServiceName reports whether s is a service name as the mesh requires
// it: a lowercase DNS label (RFC 1123) of 1 to 63 letters, digits and '-'.
func isServiceName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
