package discovery

import "github.com/hashicorp/memberlist"

// Sizes that decide how large an entry may be. memberlist gossips over UDP
// packets of at most UDPBufferSize bytes, and piggybacks user broadcasts on
// them only if they fit whole, so an entry that does not fit is never
// gossiped. The overheads below mirror memberlist v0.7.0 (net.go,
// security.go, label.go, state.go), which does not export them.
const (
	// udpBufferSize is memberlist's default Config.UDPBufferSize, which
	// Weft keeps: it fits the usual 1500-byte Ethernet MTU.
	udpBufferSize = 1400
	// compoundHeaderOverhead is reserved for the compound message header.
	compoundHeaderOverhead = 2
	// compoundOverhead is the length prefix of each message in a compound.
	compoundOverhead = 2
	// userMsgOverhead is the message type byte of a user message.
	userMsgOverhead = 1
	// crcOverhead is the checksum header memberlist adds to UDP packets
	// for peers speaking protocol 5, after computing what fits.
	crcOverhead = 5
	// encryptOverhead is the largest AES-GCM overhead: version 1, nonce
	// 12, padding up to 16, tag 16.
	encryptOverhead = 45
)

// entryLimit returns the largest encoded entry that fits in one gossip
// packet of a mesh labelled label, encrypted or not.
func entryLimit(label string, encrypted bool) int {
	n := udpBufferSize - compoundHeaderOverhead - compoundOverhead - userMsgOverhead - crcOverhead
	if label != "" {
		n -= 2 + len(label) // label header: type, length, label
	}
	if encrypted {
		n -= encryptOverhead
	}
	return n
}

// entryBroadcast is one entry queued for gossip. A newer entry for the
// same node replaces an older one still in the queue.
type entryBroadcast struct {
	node string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*entryBroadcast)(nil)

// Invalidates reports whether b supersedes other: both are about the same
// node.
func (b *entryBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(memberlist.NamedBroadcast)
	return ok && o.Name() == b.Name()
}

// Name identifies the broadcast by its node, so the queue keeps one entry
// per node.
func (b *entryBroadcast) Name() string { return b.node }

// Message returns the encoded entry.
func (b *entryBroadcast) Message() []byte { return b.msg }

// Finished is called when the entry leaves the queue; nothing waits on it.
func (b *entryBroadcast) Finished() {}
