package jwtauth

import (
	"net/http"
	"strings"
)

// location is a compiled [Location].
type location struct {
	header string // canonical header name, "Cookie" for a cookie
	lower  string // the same in lower case, as gRPC metadata keys are
	prefix string // before the token, compared without regard to case
	cookie string // the cookie's name; "" for a header
	desc   string // for logs: "header Authorization", "cookie session"
}

func compileLocations(from []Location) []location {
	if len(from) == 0 {
		from = defaultFrom
	}
	out := make([]location, 0, len(from))
	for _, l := range from {
		c := location{header: http.CanonicalHeaderKey(l.Header), prefix: l.Prefix, cookie: l.Cookie}
		if l.Cookie != "" {
			c.header, c.desc = "Cookie", "cookie "+l.Cookie
		} else {
			c.desc = "header " + c.header
			if c.prefix == "" && c.header == "Authorization" {
				c.prefix = "Bearer "
			}
		}
		c.lower = strings.ToLower(c.header)
		out = append(out, c)
	}
	return out
}

// headers is a request's headers, as HTTP has them or as gRPC metadata.
type headers interface {
	values(l *location) []string
}

type httpHeaders http.Header

func (h httpHeaders) values(l *location) []string { return h[l.header] }

type metadataHeaders map[string][]string

func (m metadataHeaders) values(l *location) []string { return m[l.lower] }

// find returns the token at the first location that holds one, and the
// index of that location; -1 and no problem when there is none. problem
// is set for a place that holds something malformed: two Authorization
// headers, a cookie set twice, a scheme with no token after it.
func find(locs []location, h headers) (token string, at int, problem string) {
	for i := range locs {
		l := &locs[i]
		vals := h.values(l)
		if len(vals) == 0 {
			continue
		}
		if l.cookie != "" {
			tok, n := cookieValue(vals, l.cookie)
			switch {
			case n > 1:
				return "", i, "cookie " + l.cookie + " is set more than once"
			case n == 1 && tok == "":
				return "", i, "cookie " + l.cookie + " is empty"
			case n == 1:
				return tok, i, ""
			}
			continue
		}
		if len(vals) > 1 {
			return "", i, "more than one " + l.header + " header"
		}
		v := vals[0]
		if len(v) < len(l.prefix) || !strings.EqualFold(v[:len(l.prefix)], l.prefix) {
			// Another scheme (Basic ...): not a token for this place.
			continue
		}
		tok := strings.TrimSpace(v[len(l.prefix):])
		if tok == "" {
			return "", i, l.desc + " holds no token after " + strings.TrimSpace(l.prefix)
		}
		return tok, i, ""
	}
	return "", -1, ""
}

// cookieValue returns the value of the cookie named name in the Cookie
// header values, and how many times it is set. It reads the header as RFC
// 6265 section 5.4 writes it ("a=1; b=2"), without allocating.
func cookieValue(vals []string, name string) (value string, n int) {
	for _, line := range vals {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			// A part without '=' is a cookie with an empty value, as
			// net/http reads it.
			k, v, _ := strings.Cut(part, "=")
			if strings.TrimSpace(k) != name {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			value = v
			n++
		}
	}
	return value, n
}

// withoutCookie returns the Cookie header values without the cookies
// named name; it drops values left empty.
func withoutCookie(vals []string, name string) []string {
	out := make([]string, 0, len(vals))
	for _, line := range vals {
		var kept []string
		for _, part := range strings.Split(line, ";") {
			p := strings.TrimSpace(part)
			if k, _, _ := strings.Cut(p, "="); strings.TrimSpace(k) == name || p == "" {
				continue
			}
			kept = append(kept, p)
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	return out
}

// strip removes every token place from a header map, whose keys are
// canonical (HTTP) or lower case (gRPC metadata).
func strip(locs []location, m map[string][]string, lower bool) {
	for i := range locs {
		l := &locs[i]
		key := l.header
		if lower {
			key = l.lower
		}
		vals, ok := m[key]
		if !ok {
			continue
		}
		if l.cookie == "" {
			delete(m, key)
			continue
		}
		if _, n := cookieValue(vals, l.cookie); n == 0 {
			continue
		}
		if rest := withoutCookie(vals, l.cookie); len(rest) > 0 {
			m[key] = rest
		} else {
			delete(m, key)
		}
	}
}
