// Package hydratest runs a real ORY Hydra v2 for Weft's tests: an OAuth 2.0
// and OpenID Connect server that issues JWT access tokens, so that
// end-user authentication is tested against tokens and a key set from a
// real identity provider.
//
// [Start] makes a CA and a certificate for 127.0.0.1, writes a
// configuration of its own (an in-memory database, the public and admin
// ports on free loopback ports, both over TLS with that certificate, JWT
// access tokens) and runs `hydra serve all`, returning once its admin
// health check answers. [Hydra.CreateClient] registers an OAuth client
// through the admin API, [Hydra.Token] runs the client-credentials flow
// on the public port, and the key set is at [Hydra.JWKSURL], over HTTPS,
// trusted through [Hydra.CAFile].
//
// The binary comes from scripts/build-tools, which builds Hydra once (with
// its sqlite tags) into a cache outside the repository and exports its
// path as $WEFT_HYDRA; tests find it with [Binary]. Hydra starts in about
// a second; a package should start one and share it.
package hydratest
