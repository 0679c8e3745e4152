package mesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/extauthz/envoy"
	"github.com/weftmesh/weft/security/extauthz/opa"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport"
)

// PeerID returns the verified SPIFFE ID of the caller of the request ctx
// belongs to; ok is false when the caller proved none (a plaintext caller
// of a permissive service, or mTLS disabled). Handlers wrapped by the mesh
// read it from the request's context.
func PeerID(ctx context.Context) (id spiffeid.ID, ok bool) {
	return security.PeerFromContext(ctx)
}

// Claims returns the verified claims of the end user on whose behalf the
// request ctx belongs to was made: those of its token, when the service's
// policy authenticates end users (services.<name>.inbound.jwt); ok is
// false when the request carried no token (jwt.optional) or the service
// authenticates none. Handlers wrapped by the mesh, and gRPC handlers of
// its servers, read them from the request's context:
//
//	user, ok := mesh.Claims(r.Context())
//	if ok && user.Has("groups", "admins") { ... }
//
// Calls the handler makes with that context carry the claims on, so that
// the routes of the services it calls can match them.
func Claims(ctx context.Context) (c *claims.Set, ok bool) {
	return claims.FromContext(ctx)
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

// pendingSecurity is the inbound security of a policy being installed:
// commit puts it in force, abort drops what was built for it.
type pendingSecurity struct {
	n     *Node
	sec   inbound.Security
	built []func() // closes what was built for this policy and is not in force yet
}

// commit puts the settings in force and closes the end-user checks they
// replace. It runs on the goroutine that applies policies.
func (ps *pendingSecurity) commit() {
	n := ps.n
	n.inbound.SetSecurity(ps.sec)
	n.endUserMu.Lock()
	oldAuthn, oldExt := n.authn, n.extAuthz
	n.authn, n.extAuthz = ps.sec.Authentication, ps.sec.External
	n.endUserMu.Unlock()
	if oldAuthn != ps.sec.Authentication {
		oldAuthn.Close()
	}
	if oldExt != ps.sec.External {
		// Requests that picked it up before the swap are still checked.
		oldExt.Close()
	}
}

// abort closes what was built for a policy that is not installed.
func (ps *pendingSecurity) abort() {
	for _, c := range ps.built {
		c()
	}
}

// inboundSecurity returns how the node's server side identifies,
// authenticates and authorizes callers under p. End-user authentication
// and external authorization whose settings did not change are kept as
// they are, with their caches and connections.
func (n *Node) inboundSecurity(p *policy.Policy) (*pendingSecurity, error) {
	ps := &pendingSecurity{n: n, sec: inbound.Security{Logger: n.logger, Service: n.cfg.Service}}
	in := p.Services[n.cfg.Service].Inbound
	if err := n.endUserChecks(ps, in); err != nil {
		ps.abort()
		return nil, err
	}
	if n.identity == nil {
		// No caller can prove an identity: only rules on claims alone
		// can match, and the policy allows no others without mTLS.
		if in != nil && in.Authorization != nil {
			az, err := authz.Compile(*in.Authorization, spiffeid.TrustDomain{}, nil)
			if err != nil {
				ps.abort()
				return nil, fmt.Errorf("authorization of %s: %w", n.cfg.Service, err)
			}
			ps.sec.Authorization = az
		}
		return ps, nil
	}
	src := n.identity.Source()
	ps.sec.Verify = func(chain []*x509.Certificate) (spiffeid.ID, error) { return security.VerifyPeer(src, chain) }
	ps.sec.RequireTLS = p.MTLS(n.cfg.Service) == security.Strict
	tmpl := n.identity.Template()
	ps.sec.CallerName = tmpl.Service
	rules := authz.Config{} // no rules: any verified peer of the mesh's trust domain
	if in != nil && in.Authorization != nil {
		rules = *in.Authorization
	}
	az, err := authz.Compile(rules, tmpl.TrustDomain(), tmpl.ID)
	if err != nil {
		ps.abort()
		return nil, fmt.Errorf("authorization of %s: %w", n.cfg.Service, err)
	}
	ps.sec.Authorization = az
	return ps, nil
}

// endUserChecks sets the end-user authentication and the external
// authorizer in ps: those in force when their settings are unchanged,
// else new ones.
func (n *Node) endUserChecks(ps *pendingSecurity, in *transport.InboundConfig) error {
	n.endUserMu.Lock()
	curAuthn, curExt := n.authn, n.extAuthz
	n.endUserMu.Unlock()
	if in != nil && in.JWT != nil {
		if curAuthn != nil && reflect.DeepEqual(curAuthn.Config(), *in.JWT) {
			ps.sec.Authentication = curAuthn
		} else {
			a, err := jwtauth.New(*in.JWT, jwtauth.Options{Service: n.cfg.Service, Logger: n.logger, Previous: curAuthn})
			if err != nil {
				return fmt.Errorf("jwt of %s: %w", n.cfg.Service, err)
			}
			ps.sec.Authentication = a
			ps.built = append(ps.built, a.Close)
		}
	}
	if in != nil && in.ExtAuthz != nil {
		if curExt != nil && reflect.DeepEqual(curExt.Config(), *in.ExtAuthz) {
			ps.sec.External = curExt
		} else {
			a, err := newExternalAuthorizer(*in.ExtAuthz)
			if err != nil {
				return fmt.Errorf("extAuthz of %s: %w", n.cfg.Service, err)
			}
			ps.sec.External = a
			ps.built = append(ps.built, a.Stop)
		}
	}
	return nil
}

// newExternalAuthorizer connects to the server cfg names, in the
// protocol it names.
func newExternalAuthorizer(cfg extauthz.Config) (*extauthz.Authorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var chk extauthz.Checker
	var err error
	switch {
	case cfg.Envoy != nil:
		chk, err = envoy.New(*cfg.Envoy)
	default:
		chk, err = opa.New(*cfg.OPA)
	}
	if err != nil {
		return nil, err
	}
	a, err := extauthz.New(cfg, chk, extauthz.Options{})
	if err != nil {
		chk.Close()
		return nil, err
	}
	return a, nil
}

// closeEndUser stops end-user authentication and external authorization
// when the node stops.
func (n *Node) closeEndUser() {
	n.endUserMu.Lock()
	authn, ext := n.authn, n.extAuthz
	n.authn, n.extAuthz = nil, nil
	n.endUserMu.Unlock()
	authn.Close()
	ext.Stop()
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

// EndUserStats counts what end-user authentication and external
// authorization refused on this node, HTTP and gRPC together.
type EndUserStats = admin.EndUserStatus

// EndUserStats returns the node's end-user counters.
func (n *Node) EndUserStats() EndUserStats { return EndUserStats(n.inbound.EndUserStats()) }

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
