package mesh

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/admin/tap"
	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security"
)

// adminSide is what a node with an admin endpoint runs for it.
type adminSide struct {
	server *admin.Server
	stats  *stats.Recorder
	tap    *tap.Tap
	addr   string // advertised in the catalog
}

// newAdminObservers makes the per-edge counts and the tap that feed the
// admin endpoint; they observe requests from the start.
func (n *Node) newAdminObservers(pol *policy.Policy) *adminSide {
	a := &adminSide{
		stats: stats.NewRecorder(stats.Config{Service: n.cfg.Service, Node: n.members.Name()}),
		tap:   tap.New(n.cfg.Service),
	}
	a.tap.SetHeaders(pol.Admin.TapHeaders)
	return a
}

// startAdmin serves the admin endpoint on addr and advertises it in the
// node's catalog entry, so that peers can read its counts.
func (n *Node) startAdmin(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	loopback := isLoopback(l.Addr())
	var served net.Listener = l
	if n.identity != nil {
		// Mutual TLS for peers and tools, plaintext for health probes.
		served = security.NewListener(l, security.ListenerConfig{
			TLS:     n.identity.ServerTLS(),
			Mode:    func() security.Mode { return security.Permissive },
			Service: n.cfg.Service + " admin",
			Logger:  n.logger,
		})
	}
	a := n.adminSide
	a.server, err = admin.Start(admin.Config{
		Listener: served,
		Node:     adminView{n},
		NodeName: n.members.Name(),
		Stats:    a.stats,
		Tap:      a.tap,
		Metrics:  n.telemetry.MetricsHandler(),
		Access:   func() admin.Access { return n.adminAccess(loopback) },
		PeerTLS:  n.adminPeerTLS,
		Logger:   n.logger,
	})
	if err != nil {
		l.Close()
		return err
	}
	a.addr = n.advertised(l.Addr())
	if err := n.members.Update(func(in *discovery.Instance) {
		in.Endpoints = append(in.Endpoints, discovery.Endpoint{Protocol: admin.Protocol, Addr: a.addr})
	}); err != nil {
		a.server.Close()
		return fmt.Errorf("admin: advertise %s: %w", a.addr, err)
	}
	n.logger.Info("weft: admin endpoint", "addr", l.Addr().String(), "dashboard", "http://"+l.Addr().String()+"/ui/")
	return nil
}

func isLoopback(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	return false
}

// adminAccess returns who may read the admin endpoint under the policy
// in force: anyone on the host on loopback without admin.allow; else only
// the identities admin.allow names.
func (n *Node) adminAccess(loopback bool) admin.Access {
	allow := n.policy.Load().Admin.Allow
	acc := admin.Access{
		Protected: !loopback || len(allow) > 0,
		Hint:      "name its service or SPIFFE ID under admin.allow in the policy (weft ca issue makes a certificate for a tool)",
	}
	if !acc.Protected {
		return acc
	}
	if n.identity == nil {
		acc.Hint = "the node has no identity to verify callers with: configure security.identity and admin.allow, or listen on 127.0.0.1"
		return acc
	}
	tmpl := n.identity.Template()
	acc.Allowed = func(id spiffeid.ID) bool {
		for _, a := range allow {
			if strings.HasPrefix(a, "spiffe://") {
				if id.String() == a {
					return true
				}
				continue
			}
			if svc, ok := tmpl.Service(id); ok && svc == a {
				return true
			}
		}
		return false
	}
	return acc
}

// adminPeerTLS returns the configuration to read the admin endpoint of an
// instance of service: mutual TLS with the node's identity, which checks
// the peer's, or nil (plaintext) without one.
func (n *Node) adminPeerTLS(service string) *tls.Config {
	if n.identity == nil {
		return nil
	}
	c, err := n.identity.ClientTLS(service)
	if err != nil {
		return security.ClientTLS(n.identity.Source(), spiffeid.ID{})
	}
	return c
}

// AdminAddr returns the host:port the admin endpoint listens on, or "" when
// the node serves none.
func (n *Node) AdminAddr() string {
	if n.adminSide == nil || n.adminSide.server == nil {
		return ""
	}
	return n.adminSide.server.Addr()
}

// adminView is the node as the admin endpoint reads it.
type adminView struct{ n *Node }

func (v adminView) Status() admin.Status { return v.n.Status() }

func (v adminView) Draining() bool {
	v.n.mu.Lock()
	defer v.n.mu.Unlock()
	return v.n.stopping
}

func (v adminView) Members() []discovery.Member { return v.n.members.Members() }

func (v adminView) Instances() []*discovery.Instance {
	view := v.n.members.View()
	var out []*discovery.Instance
	for _, svc := range view.Services() {
		out = append(out, view.Instances(svc)...)
	}
	return out
}

// Status returns a snapshot of the node's view of the mesh.
func (n *Node) Status() admin.Status {
	v := n.members.View()
	s := admin.Status{
		Node:       n.members.Name(),
		Service:    n.cfg.Service,
		GossipAddr: n.members.Addr(),
		Local:      admin.NewInstanceStatus(n.members.Local()),
		Members:    n.members.Members(),
		Catalog:    make(map[string][]admin.InstanceStatus),
		Endpoints:  make(map[string][]string),
		Gossip:     n.members.Stats(),
		Inbound:    admin.InboundStatus{InFlight: n.inbound.InFlight(), Served: n.inbound.Served(), EndUser: admin.EndUserStatus(n.inbound.EndUserStats())},
	}
	for _, svc := range v.Services() {
		for _, in := range v.Instances(svc) {
			s.Catalog[svc] = append(s.Catalog[svc], admin.NewInstanceStatus(in))
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
	s.Policy = admin.PolicyStatus{Source: p.Source, SHA256: p.Hash, Effective: p.Effective()}
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
