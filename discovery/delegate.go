package discovery

import (
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate connects memberlist to the catalog. memberlist calls it from
// several goroutines, some while holding its own locks: every method
// copies what it keeps, never blocks and never calls back into memberlist.
type delegate struct {
	cat        *catalog
	queue      *memberlist.TransmitLimitedQueue
	droppedPkt *atomic.Uint64
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

// NodeMeta returns the compact summary of the own entry. It is at most
// maxMetaLen bytes, far below memberlist's 512-byte limit (beyond which
// memberlist panics).
func (d *delegate) NodeMeta(limit int) []byte {
	m := d.cat.meta()
	if len(m) > limit {
		// Unreachable with a valid entry; never let memberlist panic.
		return nil
	}
	return m
}

// NotifyMsg receives a gossiped entry. buf is reused by memberlist after
// the call; the catalog copies what it keeps.
func (d *delegate) NotifyMsg(buf []byte) {
	if node := d.cat.mergeEntry(buf, "gossip"); node != "" {
		d.relay(node, buf)
	}
}

// relay queues news for gossip, as memberlist does with its own
// messages, so that an entry reaches every member and not only its
// author's direct gossip targets.
func (d *delegate) relay(node string, entry []byte) {
	d.queue.QueueBroadcast(&entryBroadcast{node: node, msg: append([]byte(nil), entry...)})
}

// GetBroadcasts returns queued entries that fit in limit bytes.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState returns every entry of a live member this member knows, its
// own included, for a push/pull exchange.
func (d *delegate) LocalState(join bool) []byte {
	return encodeState(d.cat.entries())
}

// MergeRemoteState merges a peer's push/pull state: for each node, the
// entry with the highest Seq wins. What it learns is not relayed: the
// peer already has it, and every member runs push/pull itself.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	err := decodeState(buf, func(entry []byte) {
		d.cat.mergeEntry(entry, "push/pull")
	})
	if err != nil {
		d.droppedPkt.Add(1)
		d.cat.logger.Warn("discovery: dropped unreadable push/pull state", "err", err)
	}
}

// NotifyJoin is called, under memberlist's lock, when a node joins or
// comes back.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.cat.nodeAlive(n.Name, nodeAddr(n), n.Meta)
}

// NotifyUpdate is called, under memberlist's lock, when a node's metadata
// changes.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.cat.nodeAlive(n.Name, nodeAddr(n), n.Meta)
}

// NotifyLeave is called, under memberlist's lock, when a node is declared
// dead or has left.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	d.cat.nodeGone(n.Name)
}

func nodeAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// AckPayload adds nothing to probe acks.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete is called when this member's probe of other got its
// ack: other is no longer suspect, as far as this member can tell.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	d.cat.probed(other.Name)
}
