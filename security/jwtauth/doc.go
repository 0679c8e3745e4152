// Package jwtauth authenticates the end users behind a service's requests
// by their JSON Web Tokens: the `services.<name>.inbound.jwt` policy
// section.
//
// The mTLS identity of [github.com/weftmesh/weft/security] says which
// service calls; a token says on whose behalf. A [Config] lists the
// issuers a service trusts (each with its audiences, its key set and its
// algorithms) and where tokens are read: the Authorization header's
// Bearer scheme by default, another header, or a cookie; gRPC metadata
// the same way. [New] compiles it into an [Authenticator], whose
// AuthenticateHTTP and AuthenticateMetadata methods the inbound middleware
// calls once per request. A verified token's claims travel in the
// request's context as a [github.com/weftmesh/weft/security/claims.Set],
// where handlers, authorization rules and routes read them.
//
// Verification is go-jose's (github.com/go-jose/go-jose/v4): the token's
// algorithm must be one the issuer allows, never "none" and never HMAC;
// the key must be of that algorithm's type, so a token "signed" HS256
// with a public key as the secret fails; iss must name a configured
// issuer, aud one of its audiences; exp is required, and exp, nbf and iat
// are checked with the configured clock skew.
//
// Key sets come from a file or an https:// URL. A URL is fetched when the
// authenticator starts, on a schedule, and when a token names a key the
// set does not list (a rotation), never more often than the minimum
// refresh interval; the keys read last stay in use while the URL is down
// or slow, and a request waits for a fetch only within its own deadline.
//
// A verified token is remembered by its SHA-256 until it expires, so that
// its next requests cost a hash and a map lookup instead of a signature
// check; its times are checked again on every use, and it is forgotten as
// soon as its key leaves the issuer's key set.
package jwtauth
