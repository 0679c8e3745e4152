package discovery

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Wire formats. Every format starts with a version byte so that a later
// release can change the encoding and still recognise what older members
// send; a member drops (and counts) what it cannot read.
//
// Entry (a broadcast user message, and one item of the push/pull state):
//
//	entryVersion | JSON of Instance (the field tags in instance.go)
//
// JSON keeps the format readable in packet captures and lets newer
// members add fields that older ones ignore. Every decoded entry is
// validated field by field before it is used.
//
// Node meta (memberlist's per-node metadata, at most 512 bytes):
//
//	metaVersion | state | flags | uvarint seq | service name
//
// Push/pull state:
//
//	stateVersion | (uvarint length | entry)*
const (
	entryVersion = 1
	metaVersion  = 1
	stateVersion = 1

	// metaLeaving marks a member that is leaving the mesh gracefully.
	metaLeaving = 1 << 0

	// maxEntryWire bounds a decoded entry: no valid entry can exceed a
	// UDP gossip packet, see entryLimit.
	maxEntryWire = udpBufferSize

	// maxMetaLen is the largest meta encodeMeta produces: three bytes,
	// a ten-byte uvarint and a service name.
	maxMetaLen = 3 + binary.MaxVarintLen64 + MaxServiceLen
)

var (
	errEmpty     = errors.New("empty")
	errVersion   = errors.New("unknown format version")
	errTooLarge  = errors.New("too large")
	errTruncated = errors.New("truncated")
)

// encodeEntry returns the wire form of in. It does not validate in.
func encodeEntry(in *Instance) ([]byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return append([]byte{entryVersion}, b...), nil
}

// decodeEntry parses and validates one entry. It never keeps buf.
func decodeEntry(buf []byte) (*Instance, error) {
	switch {
	case len(buf) == 0:
		return nil, errEmpty
	case len(buf) > maxEntryWire:
		return nil, fmt.Errorf("%d bytes: %w", len(buf), errTooLarge)
	case buf[0] != entryVersion:
		return nil, fmt.Errorf("%w %d", errVersion, buf[0])
	}
	in := new(Instance)
	if err := json.Unmarshal(buf[1:], in); err != nil {
		return nil, err
	}
	if err := validateInstance(in); err != nil {
		return nil, err
	}
	canonicalize(in)
	return in, nil
}

// canonicalize gives in the form it has after a trip over the wire: empty
// collections are nil, as omitempty drops them.
func canonicalize(in *Instance) {
	if len(in.Labels) == 0 {
		in.Labels = nil
	}
	if len(in.Endpoints) == 0 {
		in.Endpoints = nil
	}
}

// nodeMeta is the compact summary of an entry that memberlist carries in
// its alive messages, so that state changes also travel with membership
// gossip.
type nodeMeta struct {
	state   State
	leaving bool
	seq     uint64
	service string
}

func encodeMeta(m nodeMeta) []byte {
	b := make([]byte, 0, 3+binary.MaxVarintLen64+len(m.service))
	var flags byte
	if m.leaving {
		flags |= metaLeaving
	}
	b = append(b, metaVersion, byte(m.state), flags)
	b = binary.AppendUvarint(b, m.seq)
	return append(b, m.service...)
}

func decodeMeta(buf []byte) (nodeMeta, error) {
	if len(buf) == 0 {
		return nodeMeta{}, errEmpty
	}
	if buf[0] != metaVersion {
		return nodeMeta{}, fmt.Errorf("%w %d", errVersion, buf[0])
	}
	if len(buf) < 4 {
		return nodeMeta{}, errTruncated
	}
	m := nodeMeta{state: State(buf[1]), leaving: buf[2]&metaLeaving != 0}
	seq, n := binary.Uvarint(buf[3:])
	if n <= 0 {
		return nodeMeta{}, errTruncated
	}
	m.seq = seq
	m.service = string(buf[3+n:])
	if m.state < StateStarting || m.state > StateDraining {
		return nodeMeta{}, fmt.Errorf("unknown state %d", m.state)
	}
	if m.seq == 0 {
		return nodeMeta{}, errors.New("seq 0")
	}
	if !ValidService(m.service) {
		return nodeMeta{}, fmt.Errorf("service %q: not a DNS label", m.service)
	}
	return m, nil
}

// encodeState frames already encoded entries for a push/pull exchange.
func encodeState(entries [][]byte) []byte {
	n := 1
	for _, e := range entries {
		n += binary.MaxVarintLen32 + len(e)
	}
	b := make([]byte, 1, n)
	b[0] = stateVersion
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// decodeState calls fn with each framed entry of a push/pull state, in
// order. The slices passed to fn alias buf. A framing error stops the walk
// and is returned; entries before it have been handed to fn.
func decodeState(buf []byte, fn func(entry []byte)) error {
	if len(buf) == 0 {
		return errEmpty
	}
	if buf[0] != stateVersion {
		return fmt.Errorf("%w %d", errVersion, buf[0])
	}
	buf = buf[1:]
	for len(buf) > 0 {
		size, n := binary.Uvarint(buf)
		if n <= 0 {
			return errTruncated
		}
		buf = buf[n:]
		if size > uint64(len(buf)) {
			return errTruncated
		}
		if size > maxEntryWire {
			return fmt.Errorf("entry of %d bytes: %w", size, errTooLarge)
		}
		fn(buf[:size])
		buf = buf[size:]
	}
	return nil
}
