package discovery

import (
	"maps"
	"slices"
)

// State is the lifecycle state an instance announces for itself.
type State uint8

const (
	// StateStarting: the member has joined but serves nothing yet.
	StateStarting State = iota + 1
	// StateReady: the member's endpoints take traffic.
	StateReady
	// StateDraining: the member is shutting down; callers must stop
	// sending it new requests, while requests in flight finish.
	StateDraining
)

// String returns "starting", "ready" or "draining".
func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateDraining:
		return "draining"
	}
	return "unknown"
}

// Endpoint is one address an instance serves on.
type Endpoint struct {
	// Protocol is "http", "grpc", or "admin" for the member's admin
	// endpoint.
	Protocol string `json:"p"`
	// Addr is the host:port callers dial.
	Addr string `json:"a"`
}

// Instance is one member's catalog entry: what it hosts and where.
//
// Instances handed out by a [View] are shared and immutable: never modify
// one; use [Instance.Clone] to derive a changed copy.
type Instance struct {
	// Node is the member's unique gossip name. A restarted process gets a
	// new one.
	Node string `json:"n"`
	// Service is the name callers use in http://<service>/ URLs.
	Service string `json:"s"`
	// Version is the label subsets select on (for example "v2").
	Version string `json:"v,omitempty"`
	// Zone is the failure domain the member runs in.
	Zone string `json:"z,omitempty"`
	// Labels are free-form key/value pairs for subset selection.
	Labels map[string]string `json:"l,omitempty"`
	// Endpoints are the addresses the member serves on.
	Endpoints []Endpoint `json:"e,omitempty"`
	// Weight is the member's relative share of traffic; 0 means 1.
	Weight uint32 `json:"w,omitempty"`
	// State is the member's lifecycle state.
	State State `json:"st"`
	// Seq orders the owner's successive versions of this entry: a higher
	// Seq replaces a lower one everywhere.
	Seq uint64 `json:"q"`
}

// Clone returns a deep copy of in.
func (in *Instance) Clone() *Instance {
	c := *in
	c.Labels = maps.Clone(in.Labels)
	c.Endpoints = slices.Clone(in.Endpoints)
	return &c
}

// EndpointFor returns the instance's first endpoint speaking protocol.
func (in *Instance) EndpointFor(protocol string) (Endpoint, bool) {
	for _, e := range in.Endpoints {
		if e.Protocol == protocol {
			return e, true
		}
	}
	return Endpoint{}, false
}
