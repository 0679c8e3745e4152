// Package claims carries an end user's verified identity through a
// request: the claims of the token that
// [github.com/weftmesh/weft/security/jwtauth] verified, and the
// conditions on them that authorization rules and routes place.
//
// A [Set] is immutable and travels in the request's context
// ([NewContext], [FromContext]); handlers read it through
// mesh.Claims. Since a handler passes its request's context on to the
// calls it makes, the same Set is what routes on the client side match:
// a route with `match.claims: {plan: [beta]}` sends the calls that serve
// a beta user's request to the subset it names.
//
// A [Requirement] is the compiled form of a policy's `claims` condition,
// a mapping from claim names to accepted values: every named claim must
// hold one of its values. A claim holds a value when it is that string,
// number or boolean (written as in JSON: 42, true), or when it is an
// array with that element. The scopes of OAuth 2.0 are the exception: issuers
// put them in `scope` or in `scp`, as a space-separated string or an
// array, so a condition on either name is met by a scope listed in
// either claim ([Set.Scopes]). The package knows no protocol and no
// token format; it imports only the standard library.
package claims
