// Package discovery keeps the mesh's service catalog: which live processes
// host which services, where they listen and in what state.
//
// Every Weft process is a gossip member ([Membership], built on
// hashicorp/memberlist) and owns exactly one catalog entry, an [Instance]:
// the service it hosts, its version, zone, labels, endpoints, weight and
// lifecycle [State]. The catalog is the set of entries of the live
// members. There is no central registry: members detect each other's
// failures by probing, spread changes by gossip, and repair what gossip
// missed with periodic full-state exchanges.
//
// # How it fits
//
// The mesh package starts one Membership per node with [Start], announces
// its endpoints and readiness with [Membership.Update], marks itself
// draining before shutdown and finally calls [Membership.Leave]. The
// transport package never looks anything up per request: it subscribes
// with [Membership.Subscribe] and rebuilds its routing from each immutable
// [View] it receives.
//
// # Visibility rules
//
// A member's entry is in a View only while memberlist reports the member
// alive and its full entry is known. It leaves views at once when the
// member is declared dead, leaves, or announces that it is leaving; stale
// gossip about a departed member cannot bring it back. For each node, the
// entry with the highest Seq wins, and only the node itself writes its
// entry: copies of our own entry gossiped back by others are ignored.
//
// # Wire and limits
//
// Entries travel in two ways: as gossip broadcasts, relayed by every
// member that learns something new, which must fit in one UDP packet
// (Update rejects a larger entry and says by how much); and in push/pull
// exchanges over TCP. A compact summary (state, Seq, service) also rides
// in memberlist's node metadata, so that a state change such as draining
// spreads with membership gossip too, and so that a member notices when
// the entry it holds for a peer lags behind: it then exchanges state with
// that peer directly instead of waiting for the next periodic push/pull.
// Everything a peer sends is validated; what does not parse or validate
// is dropped and counted in [Stats].
//
// # Security
//
// All gossip is labelled with the mesh name, and encrypted and
// authenticated with AES-GCM when Config.Key is set: a process with
// another mesh name, a wrong key or no key can neither see nor inject
// entries.
package discovery
