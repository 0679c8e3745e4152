// Package files is the identity provider for nodes whose X.509 SVID and
// trust bundle are written to disk by an outside tool: cert-manager, Vault
// PKI, spire-agent's helper, or a Kubernetes secret mount. It is the
// provider behind the policy section `security.identity.files`.
//
// [New] loads the certificate chain, its private key and the CA bundle
// and checks that they form one valid SVID that chains to the bundle. A
// background watcher then polls the files every [Config.Interval]; when
// their content changes and the new set is valid, the [Source] swaps to it
// atomically, so rotation needs no restart. Tools write files one at a
// time, so a half-written rotation (a new certificate next to the old key)
// is expected: the Source keeps serving the previous SVID, logs the
// problem once, and retries on the next poll until the set is consistent.
//
// The bundle trusts only the SVID's own trust domain; federation with
// other trust domains needs the Workload API provider.
package files
