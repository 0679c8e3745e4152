package discovery

import "fmt"

// Status is what a member knows of another member's liveness.
type Status uint8

const (
	// StatusAlive: the member answers probes (or has not yet been found
	// failing).
	StatusAlive Status = iota + 1
	// StatusSuspect: this member's probe of it failed. It is declared dead
	// unless it refutes within the suspicion timeout; until then its entry
	// stays in views. The status clears when a later probe succeeds or
	// memberlist reports it alive again.
	StatusSuspect
	// StatusDead: the member stopped answering probes and was declared
	// failed.
	StatusDead
	// StatusLeft: the member announced that it was leaving, then left.
	StatusLeft
)

// String returns "alive", "suspect", "dead" or "left".
func (s Status) String() string {
	switch s {
	case StatusAlive:
		return "alive"
	case StatusSuspect:
		return "suspect"
	case StatusDead:
		return "dead"
	case StatusLeft:
		return "left"
	}
	return "unknown"
}

// MarshalText encodes s as its String form, so that JSON shows "alive".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes the String form, so that tools reading the admin
// endpoint's JSON get a Status back.
func (s *Status) UnmarshalText(b []byte) error {
	for _, c := range []Status{StatusAlive, StatusSuspect, StatusDead, StatusLeft} {
		if string(b) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("discovery: unknown member status %q", b)
}

// Member describes one gossip member as this member sees it. Departed
// members stay listed, as dead or left, for a while after they go.
type Member struct {
	// Name is the member's node name.
	Name string `json:"name"`
	// Addr is the member's gossip host:port.
	Addr string `json:"addr"`
	// Status is the member's liveness.
	Status Status `json:"status"`
	// Service is the service the member hosts, as carried in its gossip
	// metadata; empty if that metadata was unreadable.
	Service string `json:"service,omitempty"`
}

// Stats are counters of a member's gossip, for status pages and alerts.
type Stats struct {
	// Members counts the members memberlist considers alive, this one
	// included.
	Members int `json:"members"`
	// Instances counts the entries in the current view.
	Instances int `json:"instances"`
	// ViewVersion is the current view's [View.Version].
	ViewVersion uint64 `json:"viewVersion"`
	// Broadcasts counts entry broadcasts waiting to be gossiped.
	Broadcasts int `json:"broadcasts"`
	// DroppedPackets counts inbound gossip packets and streams thrown
	// away: undecryptable, from another mesh, malformed, or push/pull
	// states whose framing was unreadable. A steady rise means a
	// misconfigured member (wrong key or mesh name) or hostile traffic.
	DroppedPackets uint64 `json:"droppedPackets"`
	// DroppedEntries counts catalog entries and node metadata received
	// from peers and rejected: undecodable, or with an invalid field.
	DroppedEntries uint64 `json:"droppedEntries"`
	// Repairs counts direct state exchanges with members whose latest
	// entry gossip had not delivered in time.
	Repairs uint64 `json:"repairs"`
	// Reconnects counts state exchanges with seeds or dead members that
	// succeeded: partitions this member healed.
	Reconnects uint64 `json:"reconnects"`
	// HealthScore is memberlist's awareness score: 0 is healthy; higher
	// means this member is slow to answer probes (overloaded).
	HealthScore int `json:"healthScore"`
}
