// Package inbound is the protocol-neutral core of a node's server side:
// the one [Gate] that every call a node serves passes, whether it arrives
// as an HTTP request (the middleware of package transport) or as a gRPC
// call (the server interceptors of package transport/rpc). HTTP and gRPC
// calls therefore meet the same authorization rules, the same end-user
// authentication and external authorization, one set of inbound limits
// and one set of counters.
//
// The checks run in one order for both protocols:
//
//	caller        the verified SPIFFE ID, else the asserted Weft-Source
//	end user      the token, verified by jwtauth ([Security].Authentication)
//	rules         the authorization rules; dry-run rules log and let through
//	external      the external authorization server, for calls the rules allowed
//	limits        the service's inbound limits, per caller and in total
//
// HTTP runs them inline ([Gate.Decide], [Gate.AuthorizeExternally] and
// the counters), because it answers refusals with HTTP responses and
// reads headers in place; other protocols call [Gate.Admit], which runs
// them all and returns an [Admission] or a [Refusal] to translate.
//
// The settings are swapped atomically: a policy reload changes what the
// next call meets, never a call in flight.
package inbound
