package admin

import (
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport/observe"
)

// Status is a snapshot of what a node sees, as served at /debug/weft.
type Status struct {
	Node       string                      `json:"node"`
	Service    string                      `json:"service"`
	Mesh       string                      `json:"mesh"`
	GossipAddr string                      `json:"gossipAddr"`
	Local      InstanceStatus              `json:"local"`
	Members    []discovery.Member          `json:"members"`
	Catalog    map[string][]InstanceStatus `json:"catalog"`
	Endpoints  map[string][]string         `json:"endpoints"` // what clients balance over, per service
	Gossip     discovery.Stats             `json:"gossip"`
	Policy     PolicyStatus                `json:"policy"`
	Inbound    InboundStatus               `json:"inbound"`
	Identity   *IdentityStatus             `json:"identity,omitempty"` // nil without an identity
	// Destinations shows each destination service's endpoints with the
	// balancer's view of them: in flight, latency, weight, breaker.
	Destinations []DestinationStatus `json:"destinations"`
	// Decisions are the node's latest routing decisions, newest first.
	Decisions []Decision       `json:"decisions,omitempty"`
	Telemetry *TelemetryStatus `json:"telemetry,omitempty"`
}

// InstanceStatus is a catalog entry as people read it.
type InstanceStatus struct {
	Node      string            `json:"node"`
	Service   string            `json:"service"`
	Version   string            `json:"version,omitempty"`
	Zone      string            `json:"zone,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Endpoints []string          `json:"endpoints,omitempty"` // "protocol://host:port"
	Weight    uint32            `json:"weight"`
	State     string            `json:"state"`
}

// NewInstanceStatus describes a catalog entry.
func NewInstanceStatus(in *discovery.Instance) InstanceStatus {
	s := InstanceStatus{
		Node: in.Node, Service: in.Service, Version: in.Version, Zone: in.Zone,
		Labels: in.Labels, Weight: in.Weight, State: in.State.String(),
	}
	for _, e := range in.Endpoints {
		s.Endpoints = append(s.Endpoints, e.Protocol+"://"+e.Addr)
	}
	return s
}

// PolicyStatus says which policy is in force and how reloads went.
type PolicyStatus struct {
	Source    string `json:"source"`
	SHA256    string `json:"sha256"`
	Applied   uint64 `json:"reloadsApplied"`
	Rejected  uint64 `json:"reloadsRejected"`
	LastError string `json:"lastError,omitempty"`
	// Effective is the policy as the node applies it: defaults filled in,
	// secrets masked.
	Effective map[string]any `json:"effective,omitempty"`
}

// InboundStatus counts the requests the node served.
type InboundStatus struct {
	InFlight int64  `json:"inFlight"`
	Served   uint64 `json:"served"`
	// Rejected counts requests refused by the inbound limits, by the
	// limit that fired (caller_rate, total_rate, concurrency, adaptive).
	Rejected map[string]uint64 `json:"rejected,omitempty"`
	// AdaptiveLimit is the learned concurrency limit, 0 when off.
	AdaptiveLimit int64 `json:"adaptiveLimit,omitempty"`
	// EndUser counts what end-user authentication and external
	// authorization refused.
	EndUser EndUserStatus `json:"endUser"`
}

// EndUserStatus counts what end-user authentication and external
// authorization refused.
type EndUserStatus struct {
	// Unauthenticated counts requests refused for a missing or invalid
	// token (401), or because the keys to check it were unavailable (503).
	Unauthenticated uint64 `json:"unauthenticated"`
	// ExternalDenied counts requests the external authorization server
	// denied; ExternalFailed those it gave no usable answer for (the
	// failure mode then decided); ExternalCached the decisions reused.
	ExternalDenied uint64 `json:"externalDenied"`
	ExternalFailed uint64 `json:"externalFailed"`
	ExternalCached uint64 `json:"externalCached"`
}

// IdentityStatus describes the node's own identity.
type IdentityStatus struct {
	ID string `json:"id"`
	// Expires is when the current SVID expires, and ExpiresInSeconds how
	// long that is from now.
	Expires          time.Time `json:"expires"`
	ExpiresInSeconds float64   `json:"expiresInSeconds"`
	Mode             string    `json:"mtls"`
	// Connections counts the connections the node's listener accepted, by
	// how they were served: tls, plaintext, refused.
	Connections security.ListenerStats `json:"connections"`
	// Denied counts requests authorization refused; WouldDeny those a
	// dry-run rule set let through.
	Denied    uint64 `json:"authorizationDenied"`
	WouldDeny uint64 `json:"authorizationWouldDeny"`
}

// Types of the status defined by the packages that keep the state.
type (
	// DestinationStatus is one destination service and its endpoints as
	// the node's clients balance over them.
	DestinationStatus = observe.DestinationStatus
	// EndpointStatus is one endpoint with the balancer's view of it.
	EndpointStatus = observe.EndpointStatus
	// Decision is one routing decision: route, subset, endpoints tried,
	// outcome.
	Decision = observe.Decision
	// TelemetryStatus says where the node's traces and metrics go.
	TelemetryStatus = telemetry.Status
)
