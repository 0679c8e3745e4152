package route

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security/claims"
)

// Limits on the values a Config may hold.
const (
	maxWeight   = 1_000_000 // keeps the sum of a route's weights far from overflow
	maxNameLen  = 63        // subset and route names, like a DNS label
	minAbort    = 400
	maxAbort    = 599
	maxPercent  = 100.0
	percentHint = "must be a number from 0 to 100"
)

// Validate checks c completely and returns nil or an error listing every
// problem, one per line: subsets first in name order, then routes in
// order. Its Unwrap() []error method returns the problems one by one, each
// printed as "route: <key>: <problem>" with the key relative to the
// service's section of the policy ("subsets.v1.labels", "routes[1].to").
// A Config that validates compiles. Validate does not modify c and is safe
// for concurrent use.
func (c Config) Validate() error {
	return validate(c.Subsets, c.Routes).Err()
}

func validate(subsets map[string]Subset, routes []Route) fielderr.List {
	v := &validator{subsets: subsets, defined: sortedKeys(subsets)}
	for _, name := range v.defined {
		v.subset(name, subsets[name])
	}
	names := make(map[string]int, len(routes))
	for i, r := range routes {
		v.route(i, r, names)
	}
	return v.errs.From("route")
}

type validator struct {
	subsets map[string]Subset
	defined []string // subset names, sorted, for messages
	errs    fielderr.List
}

func (v *validator) subset(name string, s Subset) {
	key := "subsets." + name
	if !validName(name) {
		v.errs.Add("subsets", "invalid subset name %q; use 1 to %d letters, digits, '-', '_' or '.'", name, maxNameLen)
	}
	for _, l := range sortedKeys(s.Labels) {
		if l == "" {
			v.errs.Add(key+".labels", "a label name is empty; write the label's name before the colon")
		}
	}
}

func (v *validator) route(i int, r Route, names map[string]int) {
	key := "routes[" + strconv.Itoa(i) + "]"
	if r.Name != "" {
		if !validName(r.Name) {
			v.errs.Add(key+".name", "invalid route name %q; use 1 to %d letters, digits, '-', '_' or '.'", r.Name, maxNameLen)
		} else if first, dup := names[r.Name]; dup {
			v.errs.Add(key+".name", "duplicate route name %q, also the name of routes[%d]; route names must be unique", r.Name, first)
		} else {
			names[r.Name] = i
		}
	}
	v.match(key+".match", r.Match)
	v.to(key+".to", r.To)
	if r.Timeout < 0 {
		v.errs.Add(key+".timeout", "must not be negative; leave it out to use the service's timeout")
	}
	if r.Fault != nil {
		v.fault(key+".fault", r.Fault)
	}
	if r.Mirror != nil {
		if r.Mirror.Subset == "" {
			v.errs.Add(key+".mirror.subset", "must name the subset that receives the copies")
		} else {
			v.subsetRef(key+".mirror.subset", r.Mirror.Subset)
		}
		v.percent(key+".mirror.percent", r.Mirror.Percent)
	}
}

func (v *validator) match(key string, m Match) {
	if m.Path != "" && m.PathPrefix != "" {
		v.errs.Add(key, "set path or pathPrefix, not both")
	}
	if m.Path != "" && m.Path[0] != '/' {
		v.errs.Add(key+".path", "%q does not start with '/'; write it like /charge", m.Path)
	}
	if m.PathPrefix != "" && m.PathPrefix[0] != '/' {
		v.errs.Add(key+".pathPrefix", "%q does not start with '/'; write it like /api/", m.PathPrefix)
	}
	for j, method := range m.Methods {
		if methodBit(method) != 0 && method != "" {
			continue
		}
		mkey := key + ".methods[" + strconv.Itoa(j) + "]"
		if up := strings.ToUpper(method); up != method && methodBit(up) != 0 && up != "" {
			v.errs.Add(mkey, "unknown method %q; methods are upper case: write %q", method, up)
			continue
		}
		v.errs.Add(mkey, "unknown method %q; write one of %s", method, strings.Join(knownMethods[:], ", "))
	}
	v.errs = append(v.errs, claims.Validate(key+".claims", m.Claims)...)
	seen := make(map[string]string, len(m.Headers))
	for _, name := range sortedKeys(m.Headers) {
		hkey := key + ".headers." + name
		if !validHeaderName(name) {
			v.errs.Add(key+".headers", "%q is not a valid header name; use letters, digits and -", name)
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if canon == "Host" {
			v.errs.Add(hkey, "the Host header cannot be matched: a route table belongs to one service")
			continue
		}
		if other, dup := seen[canon]; dup {
			v.errs.Add(hkey, "header %q is also listed as %q; header names are case-insensitive, keep one", name, other)
			continue
		}
		seen[canon] = name
		if m.Headers[name] == "" {
			v.errs.Add(hkey, "the value must not be empty; write the exact value the header must have")
		}
	}
}

func (v *validator) to(key string, to map[string]int) {
	if len(to) == 0 {
		return
	}
	positive, outOfRange := false, false
	for _, s := range sortedKeys(to) {
		v.subsetRef(key, s)
		switch w := to[s]; {
		case w < 0 || w > maxWeight:
			outOfRange = true
			v.errs.Add(key+"."+s, "weight %d is out of range; use a whole number from 0 to %d", w, maxWeight)
		case w > 0:
			positive = true
		}
	}
	if !positive && !outOfRange {
		v.errs.Add(key, "every weight is 0; give a subset a positive weight, or leave to out to use every endpoint")
	}
}

// subsetRef reports a reference to an undefined subset.
func (v *validator) subsetRef(key, name string) {
	if _, ok := v.subsets[name]; ok {
		return
	}
	if len(v.defined) == 0 {
		v.errs.Add(key, "unknown subset %q (no subsets are defined; define it under subsets)", name)
		return
	}
	v.errs.Add(key, "unknown subset %q (defined: %s)", name, strings.Join(v.defined, ", "))
}

func (v *validator) fault(key string, f *Fault) {
	if f.Delay == nil && f.Abort == nil {
		v.errs.Add(key, "set delay, abort or both, or remove fault")
	}
	if d := f.Delay; d != nil {
		if d.Duration <= 0 {
			v.errs.Add(key+".delay.duration", "must be greater than zero, like 100ms")
		}
		v.percent(key+".delay.percent", d.Percent)
	}
	if a := f.Abort; a != nil {
		if a.Status < minAbort || a.Status > maxAbort {
			v.errs.Add(key+".abort.status", "%d is not an HTTP error status; use a status from %d to %d, like 503", a.Status, minAbort, maxAbort)
		}
		v.percent(key+".abort.percent", a.Percent)
	}
}

func (v *validator) percent(key string, p float64) {
	if math.IsNaN(p) || p < 0 || p > maxPercent {
		v.errs.Add(key, "%s, got %v", percentHint, p)
	}
}

// validName reports whether s is a valid subset or route name.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
