// Package admin is a node's admin endpoint: health for orchestrators
// (/healthz, /readyz), metrics (/metrics), what the node sees
// (/debug/weft, as JSON or a page), and the mesh-wide dashboard (/ui)
// with the data behind it: the node's per-edge counts (/weft/stats), the
// counts of every member merged into the service graph (/weft/mesh) and a
// live stream of the requests through the node (/weft/tap).
//
// The endpoint reads the node through the small [Node] interface, which
// package mesh implements; the counts come from a [stats.Recorder] and
// the stream from a [tap.Tap], both fed by the node's observers. Each
// member advertises its admin address in its catalog entry as an
// endpoint of protocol [Protocol], so that any node can ask the others
// for their counts.
//
// On loopback the endpoint is open to the host's users. Listening
// elsewhere, or with an allow-list in the policy, everything but health
// and metrics requires mutual TLS with an identity the allow-list names;
// peers then fetch each other's counts over mutual TLS. No page shows a
// secret: the policy is shown with keys and header values masked.
package admin
