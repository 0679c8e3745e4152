// Package extauthz asks an external authorization server about each
// request before the handler runs: the `services.<name>.inbound.extAuthz`
// policy section.
//
// Two protocols are spoken, each by a [Checker] in its own subpackage:
// Envoy's ext_authz gRPC API
// ([github.com/weftmesh/weft/security/extauthz/envoy], so that servers
// written for Envoy work unchanged) and Open Policy Agent's REST data API
// ([github.com/weftmesh/weft/security/extauthz/opa]). An [Authorizer]
// wraps a Checker with what both share: the timeout (a check never holds
// a request past it, nor past the request's own deadline), the failure
// mode (deny by default: a server that is down, slow or answers garbage
// refuses requests with 503; allow lets them through), and a short cache
// of the decisions the server allows to be reused.
//
// The server learns the calling service (its verified SPIFFE ID and
// name), the method, path, query and host, the headers the Config lists
// (all by default) and the verified end-user claims. It may answer with
// a status and body for a denial, headers to set on or remove from an
// allowed request, and headers to add to the response.
//
// The package imports no protocol: the mesh builds the Checker the
// Config names and hands it to [New].
package extauthz
