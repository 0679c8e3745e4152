package authz

import (
	"fmt"
	"strings"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security/claims"
)

// Mode says whether a [Policy]'s denials are enforced.
type Mode string

const (
	// Enforce refuses denied requests: 403 for HTTP, PermissionDenied for
	// gRPC.
	Enforce Mode = "enforce"
	// DryRun computes every decision but refuses nothing, so a new rule
	// set can be watched in logs and metrics before it is enforced.
	DryRun Mode = "dry-run"
)

// Config is the authorization policy of one service, decoded from
// `services.<name>.inbound.authorization`. The zero Config has no rules:
// every caller of the local trust domain that the mTLS mode admits may
// call anything (see the package documentation).
type Config struct {
	// Mode is Enforce or DryRun. If empty, Enforce.
	Mode Mode `yaml:"mode"`

	// Rules allow requests; a request is allowed if any rule matches it.
	// If empty, every request is allowed except those from peers of
	// another trust domain.
	Rules []Rule `yaml:"rules"`
}

// Rule allows the requests whose verified peer matches one entry of From,
// whose method is one of Methods and whose path matches one of Paths.
// Duplicate entries are harmless.
type Rule struct {
	// From lists the callers, each one of:
	//
	//	orders                            a service of the mesh: the SPIFFE
	//	                                  ID its instances present
	//	spiffe://example.org/ns/batch/sa  one SPIFFE ID, exactly
	//	spiffe://example.org/ns/batch/*   every SPIFFE ID starting with the
	//	                                  part before '*', which must name a
	//	                                  whole trust domain and a '/'
	//
	// If empty, any authenticated peer of the local trust domain.
	From []string `yaml:"from"`

	// Methods lists the allowed request methods, uppercase and compared
	// exactly: GET does not imply HEAD. gRPC requests have method POST.
	// If empty, any method.
	Methods []string `yaml:"methods"`

	// Paths lists the allowed paths, each starting with '/': an exact
	// path ("/charge"), or a prefix followed by a single final '*'
	// ("/refunds/*" matches "/refunds/" and "/refunds/1/x" but not
	// "/refunds"). gRPC paths are full method names, as in
	// "/shop.Payments/Charge" or "/shop.Payments/*". If empty, any path.
	Paths []string `yaml:"paths"`

	// Claims, if not empty, requires a verified end-user token (see
	// [github.com/weftmesh/weft/security/jwtauth]) whose claims hold, for
	// each name, one of the values listed: `sub: [alice]`, `iss:
	// [https://id.example/]`, `scope: [orders.write]` (a scope the token
	// lists in its scope or scp claim, as a space-separated string or an
	// array; `scp: [...]` means the same), `groups: [admins]` (an element
	// of an array claim). A rule with Claims and an empty From places no
	// condition on the calling service: the token is the credential, and
	// callers without a SPIFFE ID (mTLS disabled, or plaintext callers of
	// a permissive service) can match it.
	Claims map[string][]string `yaml:"claims"`
}

// needsPeer reports whether the rule can match only verified callers.
func (r Rule) needsPeer() bool { return len(r.From) > 0 || len(r.Claims) == 0 }

// NeedsPeers reports whether some rule can match only verified callers:
// one with From, or without Claims. A service whose rules need peers
// needs mutual TLS.
func (c Config) NeedsPeers() bool {
	for _, r := range c.Rules {
		if r.needsPeer() {
			return true
		}
	}
	return false
}

// UsesClaims reports whether some rule requires claims, which only a
// service that authenticates end users can match.
func (c Config) UsesClaims() bool {
	for _, r := range c.Rules {
		if len(r.Claims) > 0 {
			return true
		}
	}
	return false
}

// Validate checks c and returns nil or an error listing every problem, one
// per line. Its Unwrap() []error method returns the problems one by one,
// each printed as "authz: <key>: <problem>" with the key relative to
// `authorization` ("mode", "rules[1].paths[0]").
func (c Config) Validate() error {
	var es fielderr.List
	switch c.Mode {
	case "", Enforce, DryRun:
	default:
		es.Add("mode", "%s is not a mode; write %s or %s (if empty, %s)", quote(string(c.Mode)), Enforce, DryRun, Enforce)
	}
	for i, r := range c.Rules {
		for j, s := range r.From {
			if msg := sourceProblem(s); msg != "" {
				es.Add(fmt.Sprintf("rules[%d].from[%d]", i, j), "%s", msg)
			}
		}
		for j, s := range r.Methods {
			if msg := methodProblem(s); msg != "" {
				es.Add(fmt.Sprintf("rules[%d].methods[%d]", i, j), "%s", msg)
			}
		}
		for j, s := range r.Paths {
			if msg := pathProblem(s); msg != "" {
				es.Add(fmt.Sprintf("rules[%d].paths[%d]", i, j), "%s", msg)
			}
		}
		es = append(es, claims.Validate(fmt.Sprintf("rules[%d].claims", i), r.Claims)...)
	}
	return es.From("authz").Err()
}

// UnknownSources returns nil or an error listing every From entry that is
// a service name for which known returns false, keyed as
// [Config.Validate] keys its problems, so that a misspelt service is
// caught when the policy is checked rather than silently never matching.
// Entries that are SPIFFE IDs or not valid at all are left to Validate. A
// nil known reports nothing.
func (c Config) UnknownSources(known func(service string) bool) error {
	if known == nil {
		return nil
	}
	var es fielderr.List
	for i, r := range c.Rules {
		for j, s := range r.From {
			if isServiceName(s) && !known(s) {
				es.Add(fmt.Sprintf("rules[%d].from[%d]", i, j),
					"unknown service %s: name it under services, or use its SPIFFE ID", quote(s))
			}
		}
	}
	return es.From("authz").Err()
}

// methodProblem accepts a method token in uppercase: methods are compared
// exactly, so "get" would never match an HTTP request.
func methodProblem(s string) string {
	switch {
	case s == "":
		return "empty; write a method like GET or POST, or leave methods empty to allow any method"
	case s == "*":
		return "'*' is not a method; leave methods empty to allow any method"
	case isMethod(strings.ToUpper(s)) && !isMethod(s):
		return fmt.Sprintf("%s: methods are uppercase and compared exactly; write %s", quote(s), strings.ToUpper(s))
	case !isMethod(s):
		return fmt.Sprintf("%s is not a method; write an uppercase token like GET or POST", quote(s))
	}
	return ""
}

// maxMethodLen bounds a method token; real ones are far shorter.
const maxMethodLen = 32

func isMethod(s string) bool {
	if s == "" || len(s) > maxMethodLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// quote returns s quoted, cut short when long, for error messages that must
// stay readable whatever the policy holds.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
