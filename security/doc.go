// Package security gives a node its SPIFFE identity and secures every mesh
// connection with it.
//
// A [Source] supplies the node's current X.509 SVID and the trust bundles
// that peers are verified against. Three providers implement it, each in
// its own package: [github.com/weftmesh/weft/security/workload] (the
// SPIFFE Workload API, the production path), [github.com/weftmesh/weft/security/files]
// (PEM files rotated by an outside tool) and [github.com/weftmesh/weft/security/devca]
// (an in-process CA for development). [Open] builds the one a [Config]
// names.
//
// [ServerTLS] and [ClientTLS] return one dynamic *tls.Config each, whose
// hooks read the newest SVID and bundle on every handshake, so rotation
// needs no restart. Identity checks run in VerifyConnection, which Go's
// TLS calls on resumed sessions too, and session tickets are off, so a
// resumed session can never skip them.
//
// Authorization rules live in [github.com/weftmesh/weft/security/authz];
// the verified caller of a request travels in its context ([PeerFromContext]).
// The end user behind a request is authenticated by its token in
// [github.com/weftmesh/weft/security/jwtauth], whose verified claims
// ([github.com/weftmesh/weft/security/claims]) travel in the same context;
// [github.com/weftmesh/weft/security/extauthz] asks an external server.
package security
