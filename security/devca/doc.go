// Package devca is a certificate authority for development: it issues
// short-lived X.509 SVIDs so that a Weft mesh runs with mTLS and SPIFFE
// identities without SPIRE. It must not be used in production, where
// identities come from the SPIFFE Workload API
// ([github.com/weftmesh/weft/security/workload]).
//
// A [CA] is one ECDSA P-256 root key and its self-signed certificate for
// one trust domain. `weft ca init DIR --trust-domain T` ([Init]) writes
// them to DIR/ca.crt and DIR/ca.key; the policy section
// security.identity.dev ([Config]) points nodes at that directory, and each
// node's [Source] issues its own SVID from it, renewing it in the
// background at half of its lifetime. Every node that loads the same
// directory trusts the others.
//
// The same [CA] is what tests use to mint certificates: [CA.Issue] for a
// valid SVID, [CA.IssueValidity] for an expired or not-yet-valid one,
// [New] with another trust domain for a foreign identity, and a second
// [New] with the same trust domain for an untrusted authority.
// [WriteSVID] stores an SVID as PEM files.
package devca
