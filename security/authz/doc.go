// Package authz decides which callers may reach which methods and paths of
// a Weft server: the allow rules of a service's
// `services.<name>.inbound.authorization` policy section, by calling
// service (its SPIFFE ID), method, path and the claims of the end user's
// token ([github.com/weftmesh/weft/security/claims]).
//
// The mTLS mode of [github.com/weftmesh/weft/security] decides who may
// connect; this package decides, per request, what a connected caller may
// do. It knows no protocol: HTTP servers pass the request method and URL
// path, gRPC servers pass "POST" (or rules leave methods empty) and the
// full method name, such as "/shop.Payments/Charge", as the path.
//
// A [Config] is decoded from the policy and checked with
// [Config.Validate]; [Compile] turns it into a [Policy], an immutable
// matcher whose [Policy.Decide] is safe for concurrent use and, once warm,
// does not allocate, so it can run on every request. When the policy
// changes, a server compiles a new Policy and swaps it in atomically.
//
// Semantics, in short:
//
//   - With no rules, every request is allowed, except one from an
//     authenticated peer of another trust domain: federation must be
//     opted into with a rule naming the peer's SPIFFE ID.
//   - With rules, a request is allowed only if one rule matches its
//     verified peer, its method, its path and, when the rule names
//     claims, the claims of its verified end-user token. A request
//     without a verified identity matches only rules that name claims
//     and no source: there the token is the credential.
//   - In dry-run mode every decision is computed and reported, but
//     [Decision.Enforced] is false: the server logs and counts would-be
//     denials and serves the request.
package authz
