package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/observe"
)

// Node is one member of the mesh, hosting one service. All its methods are
// safe for concurrent use.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	members *discovery.Membership
	engine  *engine.Engine     // the client engine HTTP and gRPC share
	http    *transport.Clients // the HTTP side of the node's clients
	// inbound is the server side HTTP and gRPC share: security, limits,
	// observer, counters; serveHTTP is HTTP's middleware over it.
	inbound   inbound.Gate
	serveHTTP *transport.Inbound
	watcher   *policy.Watcher // nil without a policy file
	// adminSide is the admin endpoint and what feeds it; nil without an
	// admin address.
	adminSide *adminSide
	unsub     func()

	telemetry *telemetry.Telemetry
	decisions *observe.DecisionLog // nil without an admin address

	policy atomic.Pointer[policy.Policy]
	// installing is the policy being applied, ahead of policy while the
	// engine rebuilds: connections follow its mTLS modes.
	installing atomic.Pointer[policy.Policy]
	identity   *security.Identity // nil without security.identity
	ready      chan struct{}

	endUserMu sync.Mutex             // guards authn and extAuthz
	authn     *jwtauth.Authenticator // in force; nil without jwt
	extAuthz  *extauthz.Authorizer   // in force; nil without extAuthz
	grpc      grpcSide               // channels and servers; see grpc.go

	mu        sync.Mutex // guards servers, listeners and stopping
	servers   []*http.Server
	listeners []*security.Listener
	stopping  bool

	stopOnce sync.Once
	stopErr  error
}

// defaultNode is the node package-level functions act on.
var defaultNode atomic.Pointer[Node]

// Start joins the mesh as a member that hosts cfg.Service.
//
// When cfg.Join names seeds, Start returns once one of them answered. It
// retries with backoff, logging each failed attempt at Warn with the
// reason (nothing listens, timed out, another gossip key or mesh name),
// until ctx ends, or for [discovery.DefaultJoinTimeout] when ctx has no
// deadline; the error then says why each seed failed. A bad policy
// file makes Start fail with an error that lists every problem in it, each
// as file:line:col. Nothing Start began is left running when it fails.
//
// The first node started in a process, until it shuts down, is the
// default node that [NewClient] and [Wrap] use.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pol := policy.Default()
	if cfg.PolicyFile != "" {
		if pol, err = policy.Load(cfg.PolicyFile); err != nil {
			return nil, fmt.Errorf("mesh: policy %s has errors:\n%w", cfg.PolicyFile, err)
		}
	}
	n := &Node{
		cfg:    cfg,
		logger: cfg.Logger.With("service", cfg.Service),
		ready:  make(chan struct{}),
	}
	n.installing.Store(pol)
	if err := n.openIdentity(ctx, pol); err != nil {
		return nil, err
	}
	if err := n.setUp(pol); err != nil {
		n.closeIdentity()
		return nil, err
	}
	n.policy.Store(pol)

	n.members, err = discovery.Start(ctx, discovery.Config{
		MeshName:      pol.Mesh.Name,
		Key:           pol.Mesh.GossipKey,
		BindAddr:      cfg.GossipAddr,
		AdvertiseAddr: cfg.AdvertiseAddr,
		Join:          cfg.Join,
		Timing:        cfg.Timing.Over(pol.Mesh.Timing),
		Faults:        cfg.GossipFaults,
		Logger:        n.logger,
		Local: discovery.Instance{
			Service: cfg.Service,
			Version: cfg.Version,
			Zone:    cfg.Zone,
			Labels:  cfg.Labels,
			Weight:  cfg.Weight,
			State:   discovery.StateStarting,
		},
	})
	if err != nil {
		n.closeEndUser()
		n.closeIdentity()
		return nil, fmt.Errorf("mesh: %w", err)
	}
	n.unsub = n.members.Subscribe(n.engine.UpdateCatalog)

	adminAddr := cfg.AdminAddr
	if adminAddr == "" {
		adminAddr = pol.Admin.Listen
	}
	if adminAddr != "" {
		n.adminSide = n.newAdminObservers(pol)
	}
	if err := n.startTelemetry(ctx, pol, adminAddr != ""); err != nil {
		n.unsub()
		n.members.Close()
		n.closeEndUser()
		n.closeIdentity()
		return nil, err
	}
	if adminAddr != "" {
		if err = n.startAdmin(adminAddr); err != nil {
			n.unsub()
			n.members.Close()
			n.closeEndUser()
			n.closeIdentity()
			n.dropTelemetry()
			return nil, fmt.Errorf("mesh: %w", err)
		}
	}
	if cfg.PolicyFile != "" {
		n.watcher = policy.Watch(cfg.PolicyFile, pol, policy.WatchConfig{Logger: n.logger, Apply: n.applyPolicy})
	}
	close(n.ready)
	defaultNode.CompareAndSwap(nil, n)
	n.logger.Info("weft: node started", "node", n.members.Name(), "gossip", n.members.Addr(), "mesh", pol.Mesh.Name)
	return n, nil
}

// setUp makes the client engine, the HTTP clients, the HTTP middleware
// and the inbound settings for the first policy.
func (n *Node) setUp(pol *policy.Policy) error {
	n.engine = engine.New(engine.Config{Source: n.cfg.Service, Zone: n.cfg.Zone, Logger: n.logger, TLS: n.clientTLS})
	if err := n.engine.UpdateRouting(pol.Routing()); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	n.http = transport.NewClients(transport.Config{Engine: n.engine})
	n.http.SetEgress(pol.Egress)
	n.serveHTTP = transport.NewInbound(&n.inbound)
	if err := n.inbound.SetLimits(inboundLimits(pol, n.cfg.Service)); err != nil {
		return fmt.Errorf("mesh: inbound limits of %s: %w", n.cfg.Service, err)
	}
	sec, err := n.inboundSecurity(pol)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	sec.commit()
	return nil
}

func (n *Node) closeIdentity() {
	if n.identity != nil {
		n.identity.Close()
	}
}

// applyPolicy installs a reloaded policy. It runs on the watcher's
// goroutine; an error keeps the old policy.
func (n *Node) applyPolicy(p *policy.Policy) error {
	if err := policy.CheckReload(n.policy.Load(), p); err != nil {
		return err
	}
	// Checked before anything changes, so that a rejected reload leaves
	// the old policy whole.
	if l := inboundLimits(p, n.cfg.Service); l != nil {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("inbound limits of %s: %w", n.cfg.Service, err)
		}
	}
	sec, err := n.inboundSecurity(p)
	if err != nil {
		return err
	}
	old := n.installing.Swap(p)
	if err := n.engine.UpdateRouting(p.Routing()); err != nil {
		n.installing.Store(old)
		sec.abort()
		return err
	}
	n.http.SetEgress(p.Egress)
	if err := n.inbound.SetLimits(inboundLimits(p, n.cfg.Service)); err != nil {
		sec.abort()
		return fmt.Errorf("inbound limits of %s: %w", n.cfg.Service, err)
	}
	sec.commit()
	n.applyTelemetry(p)
	if n.adminSide != nil {
		n.adminSide.tap.SetHeaders(p.Admin.TapHeaders)
	}
	n.policy.Store(p)
	n.logger.Info("weft: policy reloaded", "file", p.Source, "sha256", p.Hash)
	return nil
}

// inboundLimits returns the limits the policy sets on service's instances.
func inboundLimits(p *policy.Policy, service string) *limit.Config {
	if in := p.Services[service].Inbound; in != nil {
		return &in.Config
	}
	return nil
}

// Ready returns a channel that is closed once the node is a member of the
// mesh and has loaded its first policy. Start returns only after that, so
// the channel is closed for every node Start returned; it exists so that
// code handed a *Node can wait without knowing how it was started.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// GossipAddr returns the host:port the node's gossip is bound to, with the
// real port when port 0 was asked for. Pass it in another node's
// Config.Join to join that node to this one's mesh.
func (n *Node) GossipAddr() string { return n.members.Addr() }

// Name returns the node's unique member name in the mesh.
func (n *Node) Name() string { return n.members.Name() }

// Service returns the name of the service the node hosts.
func (n *Node) Service() string { return n.cfg.Service }

// Catalog returns the node's current view of the mesh: which live members
// host which services, where, and in what state.
func (n *Node) Catalog() *discovery.View { return n.members.View() }

// Endpoints returns the addresses this node's clients currently balance
// requests for service over: its ready, non-draining endpoints.
func (n *Node) Endpoints(service string) []string { return n.http.Endpoints(service) }

// Shutdown leaves the mesh gracefully. It announces over gossip that the
// node drains, keeps serving for Config.DrainDelay while callers learn of
// it, then shuts the HTTP servers down (requests in flight finish), leaves
// the cluster and stops everything the node started.
//
// If ctx ends first, what remains is stopped at once and ctx's error is
// returned. Shutdown is idempotent: later and concurrent calls wait for
// the first one and return its result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

// Close stops the node at once, as a crash would: listeners and
// connections are closed and the node does not leave the cluster, so
// other members notice only when their probes fail. Use it in tests and
// fault drills; use [Node.Shutdown] in production. Close after Shutdown,
// or twice, does nothing.
func (n *Node) Close() error {
	n.stopOnce.Do(func() {
		n.beginStop()
		var errs []error
		for _, s := range n.takeServers() {
			errs = append(errs, s.Close())
		}
		n.closeGRPC()
		n.stopBackground()
		errs = append(errs, n.members.Close())
		n.closeClients()
		n.dropTelemetry()
		n.stopErr = errors.Join(errs...)
	})
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	n.beginStop()
	n.inbound.SetDraining(true)
	var errs []error
	if err := n.members.Update(func(in *discovery.Instance) { in.State = discovery.StateDraining }); err != nil {
		errs = append(errs, err)
	}
	n.drainGRPC()
	n.logger.Info("weft: draining", "delay", n.cfg.DrainDelay)
	n.awaitDrainAnnounced(ctx)
	grpcStopped := n.stopGRPC(ctx)
	for _, s := range n.takeServers() {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
			errs = append(errs, fmt.Errorf("mesh: shutdown %s: %w", s.Addr, err))
		}
	}
	errs = append(errs, grpcStopped()...)
	n.stopBackground()
	if err := n.members.Leave(ctx); err != nil {
		errs = append(errs, err)
	}
	n.closeClients()
	n.stopTelemetry(ctx)
	n.logger.Info("weft: node stopped")
	return errors.Join(errs...)
}

// awaitDrainAnnounced keeps the node serving for DrainDelay, and longer
// (up to twice DrainDelay) while the draining announcement still waits in
// the gossip queue, as it does on a busy machine.
func (n *Node) awaitDrainAnnounced(ctx context.Context) {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		elapsed := time.Since(start)
		if elapsed >= 2*n.cfg.DrainDelay || elapsed >= n.cfg.DrainDelay && n.members.Stats().Broadcasts == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// closeClients cancels the mirrored calls still in flight and closes the
// clients' idle connections.
func (n *Node) closeClients() {
	n.engine.Close()
	n.http.CloseIdleConnections()
}

func (n *Node) beginStop() {
	n.mu.Lock()
	n.stopping = true
	n.mu.Unlock()
	defaultNode.CompareAndSwap(n, nil)
}

func (n *Node) takeServers() []*http.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.servers
	n.servers = nil
	return s
}

// stopBackground stops the policy watcher, the admin endpoint, the
// catalog subscription and the identity provider.
func (n *Node) stopBackground() {
	if n.watcher != nil {
		n.watcher.Close()
	}
	if n.adminSide != nil && n.adminSide.server != nil {
		n.adminSide.server.Close()
	}
	n.unsub()
	n.closeEndUser()
	n.closeIdentity()
}

// advertised returns the address callers should dial for a listener bound
// to addr: an unspecified IP is replaced by the node's gossip host.
func (n *Node) advertised(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		ghost, _, _ := net.SplitHostPort(n.members.Addr())
		host = ghost
	}
	return net.JoinHostPort(host, port)
}
