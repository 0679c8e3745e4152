package mesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/transport"
)

// PeerID returns the verified SPIFFE ID of the caller of the request ctx
// belongs to; ok is false when the caller proved none (a plaintext caller
// of a permissive service, or mTLS disabled). Handlers wrapped by the mesh
// read it from the request's context.
func PeerID(ctx context.Context) (id spiffeid.ID, ok bool) {
	return security.PeerFromContext(ctx)
}

// openIdentity obtains the node's SVID when the policy configures an
// identity, waiting within ctx for the first one.
func (n *Node) openIdentity(ctx context.Context, p *policy.Policy) error {
	if !p.Security.Enabled() {
		return nil
	}
	td, err := spiffeid.TrustDomainFromString(p.Mesh.TrustDomain)
	if err != nil {
		return fmt.Errorf("mesh: mesh.trustDomain: %w", err)
	}
	n.identity, err = security.Open(ctx, p.Security, td, n.cfg.Service, n.logger)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	n.logger.Info("weft: identity ready", "id", n.identity.ID(), "expires", n.identity.Expiry(), "mtls", p.MTLS(n.cfg.Service))
	return nil
}

// clientTLS returns the client configuration for connections to service
// under the policy being installed, nil for plaintext.
func (n *Node) clientTLS(service string) *tls.Config {
	if n.identity == nil || !usesTLS(n.installing.Load().MTLS(service)) {
		return nil
	}
	c, err := n.identity.ClientTLS(service)
	if err != nil {
		// A service name that makes no SPIFFE ID cannot be verified:
		// a config that no server satisfies fails its calls safely.
		n.logger.Error("weft: no SPIFFE ID for service; its calls fail", "service", service, "err", err)
		return security.ClientTLS(n.identity.Source(), spiffeid.ID{})
	}
	return c
}

func usesTLS(m security.Mode) bool { return m == security.Strict || m == security.Permissive }

// inboundSecurity returns how the node's server side identifies and
// authorizes callers under p.
func (n *Node) inboundSecurity(p *policy.Policy) (transport.InboundSecurity, error) {
	s := transport.InboundSecurity{Logger: n.logger, Service: n.cfg.Service}
	if n.identity == nil {
		return s, nil
	}
	src := n.identity.Source()
	s.Verify = func(chain []*x509.Certificate) (spiffeid.ID, error) { return security.VerifyPeer(src, chain) }
	s.RequireTLS = p.MTLS(n.cfg.Service) == security.Strict
	tmpl := n.identity.Template()
	s.CallerName = tmpl.Service
	if in := p.Services[n.cfg.Service].Inbound; in != nil && in.Authorization != nil {
		az, err := authz.Compile(*in.Authorization, tmpl.TrustDomain(), tmpl.ID)
		if err != nil {
			return s, fmt.Errorf("authorization of %s: %w", n.cfg.Service, err)
		}
		s.Authorization = az
	} else {
		// No rules: any verified peer of the mesh's trust domain.
		az, _ := authz.Compile(authz.Config{}, tmpl.TrustDomain(), tmpl.ID)
		s.Authorization = az
	}
	return s, nil
}

// listen wraps l so that connections follow the service's mTLS mode, read
// from the policy in force for each new connection.
func (n *Node) listen(l net.Listener) net.Listener {
	if n.identity == nil {
		return l
	}
	sl := security.NewListener(l, security.ListenerConfig{
		TLS:     n.identity.ServerTLS(),
		Mode:    func() security.Mode { return n.policy.Load().MTLS(n.cfg.Service) },
		Service: n.cfg.Service,
		Logger:  n.logger,
	})
	n.mu.Lock()
	n.listeners = append(n.listeners, sl)
	n.mu.Unlock()
	return sl
}

// identityStatus returns the identity part of Status, nil without one.
func (n *Node) identityStatus() *admin.IdentityStatus {
	if n.identity == nil {
		return nil
	}
	s := &admin.IdentityStatus{
		ID:   n.identity.ID().String(),
		Mode: string(n.policy.Load().MTLS(n.cfg.Service)),
	}
	if exp := n.identity.Expiry(); !exp.IsZero() {
		s.Expires, s.ExpiresInSeconds = exp, time.Until(exp).Round(time.Second).Seconds()
	}
	n.mu.Lock()
	for _, l := range n.listeners {
		ls := l.Stats()
		s.Connections.TLS += ls.TLS
		s.Connections.Plaintext += ls.Plaintext
		s.Connections.Refused += ls.Refused
	}
	n.mu.Unlock()
	s.Denied, s.WouldDeny = n.inbound.AuthorizationStats()
	return s
}
