package authz

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/claims"
)

// Reasons given by [Policy.Decide] for a denial. They say which check
// failed, never which rules exist.
const (
	reasonNoIdentity = "no identity: the caller presented no verified SPIFFE ID"
	reasonSource     = "source not allowed"
	reasonMethod     = "method not allowed for this source"
	reasonPath       = "path not allowed"
	reasonForeign    = "peer from another trust domain: allow it with a rule naming its SPIFFE ID"
	reasonNoToken    = "no end-user token: the request carried no verified token"
	reasonClaims     = "end-user claims not allowed"
)

// maxForeignReasons bounds the trust domains whose denial reason a Policy
// keeps ready. Only federated trust domains can authenticate at all, so
// real meshes stay far below it.
const maxForeignReasons = 64

// Decision is the outcome of [Policy.Decide].
type Decision struct {
	// Allow reports whether the policy allows the request.
	Allow bool

	// Enforced is false in dry-run mode. A server refuses a request only
	// when Allow is false and Enforced is true (see [Decision.Refuse]); in
	// dry-run mode it logs and counts the would-be denial and serves the
	// request.
	Enforced bool

	// Rule is the index in Config.Rules of the first rule that allows the
	// request, or -1 when no rule does (the service has no rules, or the
	// request is denied).
	Rule int

	// Reason says why the request is denied, short enough for a 403 body,
	// a PermissionDenied message and a log line, and empty when it is
	// allowed. It names the failed check, one of "no identity...",
	// "source not allowed", "method not allowed for this source", "path
	// not allowed", "no end-user token...", "end-user claims not allowed"
	// or "peer from trust domain X...", and never reveals the rules.
	Reason string
}

// Refuse reports whether the server must refuse the request: it is denied
// and the policy is enforced.
func (d Decision) Refuse() bool { return !d.Allow && d.Enforced }

// Policy is a compiled [Config]: an immutable matcher, safe for concurrent
// use. Servers compile a new Policy when the policy file changes and swap
// it in atomically.
//
// A nil *Policy allows every request; it knows no local trust domain, so
// unlike a Policy compiled from the zero Config it cannot deny peers of
// another trust domain.
type Policy struct {
	mode  Mode
	local spiffeid.TrustDomain
	rules []rule

	// foreign memoizes "peer from trust domain X" reasons per trust
	// domain, copy on write, so that Decide does not allocate for them
	// once a trust domain has been seen.
	foreign atomic.Pointer[map[string]string]
}

// rule is a compiled [Rule]; empty slices match anything, except that an
// empty from matches only peers of the local trust domain, or any caller
// when the rule requires claims.
type rule struct {
	from    []pattern
	anyone  bool // from is empty and claims are required
	methods []string
	paths   []pattern
	claims  *claims.Requirement
}

// Compile validates c, resolves the service names in its From entries with
// idOf and returns the compiled Policy. local is the trust domain of this
// server, which may be zero only when no rule needs a verified peer
// ([Config.NeedsPeers]); idOf maps a service name to the SPIFFE ID its
// instances present and may be nil when no rule names a service.
//
// A Policy compiled from the zero Config has no rules: it allows every
// request except those from peers of another trust domain.
//
// The error is the one [Config.Validate] returns when c is invalid, and
// otherwise lists each From entry that idOf could not resolve, wrapping
// idOf's error.
func Compile(c Config, local spiffeid.TrustDomain, idOf func(service string) (spiffeid.ID, error)) (*Policy, error) {
	if local.IsZero() && (len(c.Rules) == 0 || c.NeedsPeers()) {
		return nil, errors.New("authz: no local trust domain; pass the trust domain of this server's SPIFFE ID")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{mode: c.Mode, local: local, rules: make([]rule, 0, len(c.Rules))}
	if p.mode == "" {
		p.mode = Enforce
	}
	var errs []error
	for i, r := range c.Rules {
		cr := rule{methods: slices.Clone(r.Methods), anyone: !r.needsPeer()}
		cr.claims, _ = claims.Compile(r.Claims) // validated above
		for j, s := range r.From {
			if !isServiceName(s) {
				cr.from = append(cr.from, parsePattern(s))
				continue
			}
			id, err := resolve(idOf, s)
			if err != nil {
				errs = append(errs, fmt.Errorf("authz: rules[%d].from[%d]: no SPIFFE ID for service %q: %w", i, j, s, err))
				continue
			}
			cr.from = append(cr.from, pattern{text: id.String()})
		}
		for _, s := range r.Paths {
			cr.paths = append(cr.paths, parsePattern(s))
		}
		p.rules = append(p.rules, cr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func resolve(idOf func(string) (spiffeid.ID, error), service string) (spiffeid.ID, error) {
	if idOf == nil {
		return spiffeid.ID{}, errors.New("service names cannot be resolved here; use the SPIFFE ID")
	}
	id, err := idOf(service)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if id.IsZero() {
		return spiffeid.ID{}, errors.New("the mesh's ID mapping returned an empty ID")
	}
	return id, nil
}

// Decide returns the decision for a request from peer, the caller's
// verified SPIFFE ID or the zero ID when it has none, with the given
// method and path: for HTTP the request method and the URL path the
// server routes on (r.URL.Path), for gRPC "POST" and the full method name.
// user holds the claims of the request's verified end-user token, nil
// without one.
//
// A path with a "." or ".." segment matches no prefix pattern, since a
// router that cleans it would serve a path outside the prefix.
//
// Decide does not allocate, except once for each new trust domain it
// denies. It is safe to call from many goroutines.
func (p *Policy) Decide(peer spiffeid.ID, method, path string, user *claims.Set) Decision {
	if p == nil {
		return Decision{Allow: true, Enforced: true, Rule: -1}
	}
	d := Decision{Enforced: p.mode == Enforce, Rule: -1}
	// ID.String and TrustDomain return substrings of the parsed ID: no
	// allocation.
	foreign := !peer.IsZero() && peer.TrustDomain() != p.local
	if len(p.rules) == 0 {
		if foreign {
			d.Reason = p.foreignReason(peer.TrustDomain().Name())
			return d
		}
		d.Allow = true
		return d
	}
	id := ""
	if !peer.IsZero() {
		id = peer.String()
	}
	dotted := hasDotSegment(path)
	// reached is the furthest check any rule passed, for the reason.
	reached := 0
	for i := range p.rules {
		r := &p.rules[i]
		if !r.anyone && (peer.IsZero() || !r.matchFrom(id, foreign)) {
			continue
		}
		reached = max(reached, 1)
		if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
			continue
		}
		reached = max(reached, 2)
		if !r.matchPath(path, dotted) {
			continue
		}
		reached = max(reached, 3)
		if !r.claims.Match(user) {
			continue
		}
		d.Allow, d.Rule = true, i
		return d
	}
	switch {
	case reached == 3 && user == nil:
		d.Reason = reasonNoToken
	case reached == 3:
		d.Reason = reasonClaims
	case reached == 2:
		d.Reason = reasonPath
	case reached == 1:
		d.Reason = reasonMethod
	case peer.IsZero():
		d.Reason = reasonNoIdentity
	case foreign:
		d.Reason = p.foreignReason(peer.TrustDomain().Name())
	default:
		d.Reason = reasonSource
	}
	return d
}

func (r *rule) matchFrom(id string, foreign bool) bool {
	if len(r.from) == 0 {
		return !foreign
	}
	for _, f := range r.from {
		if f.match(id) {
			return true
		}
	}
	return false
}

func (r *rule) matchPath(path string, dotted bool) bool {
	if len(r.paths) == 0 {
		return true
	}
	for _, p := range r.paths {
		if p.prefix && dotted {
			continue
		}
		if p.match(path) {
			return true
		}
	}
	return false
}

// foreignReason returns the denial reason for a peer of trust domain td,
// built once per trust domain.
func (p *Policy) foreignReason(td string) string {
	cur := p.foreign.Load()
	var m map[string]string
	if cur != nil {
		m = *cur
	}
	if r, ok := m[td]; ok {
		return r
	}
	if len(m) >= maxForeignReasons {
		return reasonForeign
	}
	r := "peer from trust domain " + td + ": allow it with a rule naming its SPIFFE ID"
	next := make(map[string]string, len(m)+1)
	for k, v := range m {
		next[k] = v
	}
	next[td] = r
	// A lost race only means another goroutine's map wins; this trust
	// domain is added again on its next denial.
	p.foreign.CompareAndSwap(cur, &next)
	return r
}

// Rules returns the number of rules; 0 for a nil Policy.
func (p *Policy) Rules() int {
	if p == nil {
		return 0
	}
	return len(p.rules)
}

// Mode returns Enforce or DryRun; Enforce for a nil Policy.
func (p *Policy) Mode() Mode {
	if p == nil {
		return Enforce
	}
	return p.mode
}
