package mesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience/limit"
)

// adminServer is the node's admin endpoint: health for orchestrators and
// a JSON view of what the node sees, for people.
type adminServer struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

func startAdmin(n *Node, addr string) (*adminServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		stopping := n.stopping
		n.mu.Unlock()
		if stopping {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /debug/weft", func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			writeStatusHTML(w, n.Status())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(n.Status())
	})
	mux.Handle("GET /metrics", n.telemetry.MetricsHandler())
	a := &adminServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		addr: l.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("weft: admin endpoint stopped", "err", err)
		}
	}()
	n.logger.Info("weft: admin endpoint", "addr", l.Addr().String())
	return a, nil
}

func (a *adminServer) close() {
	a.srv.Close()
	<-a.done
}

// Status is a snapshot of what a node sees, as served on the admin
// endpoint at /debug/weft.
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

func instanceStatus(in *discovery.Instance) InstanceStatus {
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
}

// AdminAddr returns the host:port the admin endpoint listens on, or "" when
// the node serves none.
func (n *Node) AdminAddr() string {
	if n.admin == nil {
		return ""
	}
	return n.admin.addr
}

// Status returns a snapshot of the node's view of the mesh.
func (n *Node) Status() Status {
	v := n.members.View()
	s := Status{
		Node:       n.members.Name(),
		Service:    n.cfg.Service,
		GossipAddr: n.members.Addr(),
		Local:      instanceStatus(n.members.Local()),
		Members:    n.members.Members(),
		Catalog:    make(map[string][]InstanceStatus),
		Endpoints:  make(map[string][]string),
		Gossip:     n.members.Stats(),
		Inbound:    InboundStatus{InFlight: n.inbound.InFlight(), Served: n.inbound.Served()},
	}
	for _, svc := range v.Services() {
		for _, in := range v.Instances(svc) {
			s.Catalog[svc] = append(s.Catalog[svc], instanceStatus(in))
		}
		s.Endpoints[svc] = n.http.Endpoints(svc)
	}
	if ls, ok := n.inbound.LimitStats(); ok {
		s.Inbound.Rejected = make(map[string]uint64)
		for reason, count := range ls.Rejected {
			if count > 0 {
				s.Inbound.Rejected[limit.Reason(reason).String()] = count
			}
		}
		s.Inbound.AdaptiveLimit = ls.AdaptiveLimit
	}
	s.Identity = n.identityStatus()
	p := n.policy.Load()
	s.Policy = PolicyStatus{Source: p.Source, SHA256: p.Hash, Effective: p.Effective()}
	if n.watcher != nil {
		ws := n.watcher.Stats()
		s.Policy.Applied, s.Policy.Rejected, s.Policy.LastError = ws.Applied, ws.Rejected, ws.LastError
	}
	s.Mesh = p.Mesh.Name
	s.Destinations = append(n.http.Status(), n.grpcDestinations()...)
	if n.decisions != nil {
		s.Decisions = n.decisions.Recent()
	}
	ts := n.telemetry.Status()
	s.Telemetry = &ts
	return s
}
