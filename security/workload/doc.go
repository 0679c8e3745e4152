// Package workload is the production identity provider: it takes a node's
// X.509 SVID and trust bundles from the SPIFFE Workload API, served by a
// SPIRE agent (or any other implementation) on a local socket. It is the
// provider behind the policy section `security.identity.spiffe`.
//
// [New] connects to the Workload API, starts watching it and waits for the
// first SVID carrying the SPIFFE ID the node must present. When none
// arrives before the context ends, the error says why and what to do: no
// socket configured, no agent listening, no registration entry for this
// workload, or entries for other IDs only. The [Source] then keeps
// watching: each update from the agent (a rotated SVID, a new CA, a
// federated bundle) replaces an immutable snapshot atomically, so TLS
// handshakes always read the newest material without locks. When the
// agent goes away, the Source logs it and keeps serving the SVID it has
// until that SVID expires, reconnecting in the background.
//
// The agent usually serves every SVID whose registration entry matches the
// calling process; a Source picks the one whose ID it was asked for, so
// several services in one process each present their own identity.
package workload
