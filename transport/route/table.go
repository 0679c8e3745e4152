package route

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/weftmesh/weft/security/claims"
)

// Table is the compiled routing of one service: its subsets and its
// ordered routes. A Table is immutable and safe for concurrent use by any
// number of goroutines; rebuild it with [Compile] when the policy changes
// and swap the pointer atomically.
//
// A nil *Table is valid: it has no subsets and no routes.
type Table struct {
	routes  []CompiledRoute
	subsets map[string]Subset
	names   []string // subset names, sorted
	claims  bool     // some route matches claims
}

// Compile validates subsets and routes as [Config.Validate] does and
// returns their compiled table, or nil and the error [Config.Validate]
// returns, listing every problem. Compile copies what it keeps: the caller may change or reuse
// its arguments afterwards. It is meant for rebuild time (it allocates), may
// be called from any goroutine and does not block.
func Compile(subsets map[string]Subset, routes []Route) (*Table, error) {
	if errs := validate(subsets, routes); len(errs) > 0 {
		return nil, errs
	}
	t := &Table{
		routes:  make([]CompiledRoute, len(routes)),
		subsets: make(map[string]Subset, len(subsets)),
		names:   sortedKeys(subsets),
	}
	for name, s := range subsets {
		t.subsets[name] = Subset{Version: s.Version, Labels: maps.Clone(s.Labels)}
	}
	for i, r := range routes {
		t.routes[i] = compileRoute(i, cloneRoute(r))
		t.claims = t.claims || t.routes[i].claims != nil
	}
	return t, nil
}

// Match returns the first route, in order, whose match fits r, or nil
// when none does; nil means the request goes to every endpoint of the
// service. The request's URL path (r.URL.Path), method, headers and, for
// routes that match claims, the end-user claims its context carries
// ([claims.FromContext]) are read; a nil r or a nil r.URL matches only
// routes that place no condition on the path.
//
// Match is called from any number of goroutines at once; it does not block,
// does not allocate and does not keep r. The returned route belongs to t
// and is shared: do not modify it.
func (t *Table) Match(r *http.Request) *CompiledRoute {
	if t == nil || r == nil {
		return nil
	}
	method := methodBit(r.Method)
	path := ""
	if r.URL != nil {
		path = r.URL.Path
	}
	var user *claims.Set
	if t.claims {
		user, _ = claims.FromContext(r.Context())
	}
	for i := range t.routes {
		if c := &t.routes[i]; c.matches(method, path, r.Header, user) {
			return c
		}
	}
	return nil
}

// Len returns the number of routes in t.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.routes)
}

// Route returns the route at index i, in policy order, or nil when i is
// out of range. The route is shared: do not modify it.
func (t *Table) Route(i int) *CompiledRoute {
	if t == nil || i < 0 || i >= len(t.routes) {
		return nil
	}
	return &t.routes[i]
}

// SubsetNames returns the names of t's subsets in sorted order, in a new
// slice the caller may keep.
func (t *Table) SubsetNames() []string {
	if t == nil {
		return nil
	}
	return slices.Clone(t.names)
}

// Subset returns the subset named name and whether it is defined. Its
// Labels map is shared: do not modify it.
func (t *Table) Subset(name string) (Subset, bool) {
	if t == nil {
		return Subset{}, false
	}
	s, ok := t.subsets[name]
	return s, ok
}

// Partition groups endpoints by the subsets of t that select them, using
// meta to read each endpoint's version and labels. An endpoint may be in
// several subsets, or in none; a subset that selects nothing maps to an
// empty slice, so that every subset name of t is a key. Order within a
// subset follows endpoints. A nil t yields an empty map.
//
// Partition is meant for rebuild time, when the catalog or the policy
// changes: it allocates the returned map and slices, which the caller owns.
// It calls meta once per endpoint and does not keep it.
func Partition[E any](t *Table, endpoints []E, meta func(E) (version string, labels map[string]string)) map[string][]E {
	if t == nil {
		return map[string][]E{}
	}
	out := make(map[string][]E, len(t.names))
	for _, name := range t.names {
		out[name] = []E{}
	}
	for _, e := range endpoints {
		version, labels := meta(e)
		for _, name := range t.names {
			if t.subsets[name].Selects(version, labels) {
				out[name] = append(out[name], e)
			}
		}
	}
	return out
}

// cloneRoute returns a deep copy of r, so that a table never shares memory
// with the Config it came from.
func cloneRoute(r Route) Route {
	r.Match.Methods = slices.Clone(r.Match.Methods)
	r.Match.Headers = maps.Clone(r.Match.Headers)
	if r.Match.Claims != nil {
		c := make(map[string][]string, len(r.Match.Claims))
		for k, v := range r.Match.Claims {
			c[k] = slices.Clone(v)
		}
		r.Match.Claims = c
	}
	r.To = maps.Clone(r.To)
	if r.Fault != nil {
		f := Fault{}
		if r.Fault.Delay != nil {
			d := *r.Fault.Delay
			f.Delay = &d
		}
		if r.Fault.Abort != nil {
			a := *r.Fault.Abort
			f.Abort = &a
		}
		r.Fault = &f
	}
	if r.Mirror != nil {
		m := *r.Mirror
		r.Mirror = &m
	}
	return r
}

func compileRoute(i int, r Route) CompiledRoute {
	c := CompiledRoute{
		index:  i,
		name:   r.Name,
		source: r,
		path:   r.Match.Path,
		prefix: r.Match.PathPrefix,
	}
	if c.name == "" {
		c.name = "routes[" + strconv.Itoa(i) + "]"
	}
	for _, m := range r.Match.Methods {
		c.methods |= methodBit(m)
	}
	for _, name := range sortedKeys(r.Match.Headers) {
		c.headers = append(c.headers, headerMatch{name: http.CanonicalHeaderKey(name), value: r.Match.Headers[name]})
	}
	c.claims, _ = claims.Compile(r.Match.Claims) // validated
	var cum uint64
	for _, s := range sortedKeys(r.To) {
		if w := r.To[s]; w > 0 {
			cum += uint64(w)
			c.split = append(c.split, splitEntry{subset: s, cum: cum})
		}
	}
	c.total = cum
	if f := r.Fault; f != nil {
		if f.Delay != nil {
			c.delay, c.delayShare = f.Delay.Duration, f.Delay.Percent/100
		}
		if f.Abort != nil {
			c.abortStatus, c.abortShare = f.Abort.Status, f.Abort.Percent/100
		}
	}
	if m := r.Mirror; m != nil {
		c.mirror, c.mirrorShare = m.Subset, m.Percent/100
	}
	return c
}

// matches reports whether a request with the given method bit, URL path,
// headers and end-user claims fits c.
func (c *CompiledRoute) matches(method methodSet, path string, h http.Header, user *claims.Set) bool {
	if c.methods != 0 && c.methods&method == 0 {
		return false
	}
	if c.path != "" && path != c.path {
		return false
	}
	if c.prefix != "" && !strings.HasPrefix(path, c.prefix) {
		return false
	}
	for _, hm := range c.headers {
		if h.Get(hm.name) != hm.value {
			return false
		}
	}
	return c.claims.Match(user)
}
