package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"google.golang.org/grpc"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/rpc"
)

// grpcSide is the gRPC part of a node: the channels it dials and the
// servers it serves.
type grpcSide struct {
	mu        sync.Mutex // guards the fields below
	dialer    *rpc.Dialer
	health    *rpc.Health
	serverTLS *tls.Config
	made      map[*grpc.Server]bool // by NewGRPCServer
	closed    bool

	servers []*grpc.Server // served by ServeGRPC; guarded by Node.mu
}

// DialGRPC returns a gRPC channel to service, the gRPC counterpart of
// [Node.NewClient]: every call is balanced over the service's ready
// instances that serve gRPC, with the policy's load balancer, routes,
// timeout, retries, hedges, breakers and outlier detection, over mutual
// TLS that checks the server's SPIFFE ID when the policy says so. Calls
// are traced, counted, access-logged and kept in the routing history as
// HTTP calls are, labeled protocol "grpc" with gRPC codes as statuses.
// grpc-go's own retries are disabled on the channel so that they never
// stack on the policy's.
//
// Like grpc.NewClient, DialGRPC does not connect; ctx matters only if it
// is already done. The channel connects to every ready instance on its
// first call and to new instances as they join. opts are applied after the
// mesh's interceptors (so the caller's run once per attempt) and cannot
// replace the mesh's credentials, resolver or balancer. Close the channel
// when done; Shutdown closes those still open.
//
// A call fails with codes.Unavailable, naming the service and the reason,
// when no instance can take it (unless it waits for ready), and with
// codes.DeadlineExceeded when the policy's timeout or ctx's deadline
// passes first.
func (n *Node) DialGRPC(ctx context.Context, service string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mesh: dial %s: %w", service, err)
	}
	d, err := n.grpcDialer()
	if err != nil {
		return nil, err
	}
	// The channel starts from the newest view the node has, even when the
	// catalog subscription has not delivered it to the engine yet.
	n.engine.UpdateCatalog(n.members.View())
	cc, err := d.Dial(service, opts...)
	if err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	return cc, nil
}

// NewGRPCServer returns a gRPC server with every inbound mesh option
// applied: mutual TLS credentials that follow the service's mTLS mode (and
// accept plaintext too in permissive mode), authorization by full method
// name (rules match method POST and the full method name as the path,
// e.g. /shop.Payments/Charge or /shop.Payments/*), the service's inbound
// limits (shared with its HTTP side), the deadline and retry mark its
// callers send, and the standard health service (grpc.health.v1.Health),
// which turns NOT_SERVING when the node drains. Calls other than health
// checks are traced (continuing the caller's trace), counted and
// access-logged as HTTP requests are. Handlers read the caller's verified
// identity with [PeerID].
//
// Register the service's implementations on it, then serve it with
// [Node.ServeGRPC]. opts are applied after the mesh's interceptors and
// cannot replace its credentials; do not register another health service.
func (n *Node) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(rpc.ServerOptions(n.rpcConfig(), opts...)...)
	g := &n.grpc
	g.mu.Lock()
	if g.health == nil {
		g.health = rpc.NewHealth()
	}
	if g.made == nil {
		g.made = make(map[*grpc.Server]bool)
	}
	g.made[s] = true
	h := g.health
	g.mu.Unlock()
	healthgrpc.RegisterHealthServer(s, h)
	return s
}

// ServeGRPC listens on addr ("127.0.0.1:0" picks a free port) and serves
// s there, a server made by [Node.NewGRPCServer]: it publishes the
// endpoint in the catalog as the node's gRPC endpoint and marks the node
// ready. When ServeGRPC returns, the endpoint is withdrawn. When the
// policy sets services.<service>.grpcReflection, s also offers the server
// reflection service.
//
// On Shutdown the node drains: the health service turns NOT_SERVING, the
// node is announced as draining and keeps serving for Config.DrainDelay
// while callers stop picking it, then s stops gracefully (GOAWAY; calls
// and streams in flight finish), bounded by Shutdown's context, before the
// node leaves the mesh. ServeGRPC then returns nil.
//
// A node publishes one gRPC endpoint: run one Node per service instance.
func (n *Node) ServeGRPC(s *grpc.Server, addr string) error {
	n.grpc.mu.Lock()
	ours := n.grpc.made[s]
	n.grpc.mu.Unlock()
	if !ours {
		return errors.New("mesh: ServeGRPC serves servers made by this node's NewGRPCServer, which carry the mesh's credentials and authorization")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mesh: listen: %w", err)
	}
	n.mu.Lock()
	switch {
	case n.stopping:
		n.mu.Unlock()
		l.Close()
		return grpc.ErrServerStopped
	case len(n.grpc.servers) > 0:
		n.mu.Unlock()
		l.Close()
		return errors.New("mesh: the node already serves gRPC: run one Node per service instance")
	}
	n.grpc.servers = append(n.grpc.servers, s)
	n.mu.Unlock()

	if n.policy.Load().Services[n.cfg.Service].GRPCReflection {
		// A server that registered reflection itself keeps its own.
		if _, ok := s.GetServiceInfo()[reflectionService]; !ok {
			reflection.Register(s)
		}
	}
	h := n.grpcHealth()
	for name := range s.GetServiceInfo() {
		h.SetServingStatus(name, healthgrpc.HealthCheckResponse_SERVING)
	}
	ep, err := n.publish(engine.GRPC.String(), l)
	if err != nil {
		n.forgetGRPC(s)
		l.Close()
		return err
	}
	n.logger.Info("weft: serving gRPC", "addr", ep.Addr)
	err = s.Serve(n.grpcListener(l))
	n.withdraw(ep, func() { n.forgetGRPC(s) })
	return err
}

// reflectionService is the full name of gRPC's server reflection service.
const reflectionService = "grpc.reflection.v1.ServerReflection"

// rpcConfig describes the node's server side to package rpc.
func (n *Node) rpcConfig() rpc.Config {
	c := rpc.Config{
		Service: n.cfg.Service,
		Logger:  n.logger,
		Inbound: &n.inbound,
	}
	if n.identity != nil {
		c.ServerTLS = n.identity.ServerTLS()
		c.Mode = n.mode
	}
	return c
}

// mode returns the service's mTLS mode under the policy in force.
func (n *Node) mode() security.Mode { return n.policy.Load().MTLS(n.cfg.Service) }

// grpcDialer returns the node's dialer, made on first use over the
// node's client engine.
func (n *Node) grpcDialer() (*rpc.Dialer, error) {
	g := &n.grpc
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("mesh: %w", rpc.ErrClosed)
	}
	if g.dialer == nil {
		g.dialer = rpc.NewDialer(n.engine)
	}
	return g.dialer, nil
}

// grpcDestinations returns the state of the services the node's gRPC
// channels call (those dialed at least once), for the admin endpoint's
// status next to the HTTP destinations.
func (n *Node) grpcDestinations() []observe.DestinationStatus {
	n.grpc.mu.Lock()
	d := n.grpc.dialer
	n.grpc.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.Destinations()
}

func (n *Node) grpcHealth() *rpc.Health {
	g := &n.grpc
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.health == nil {
		g.health = rpc.NewHealth()
	}
	return g.health
}

// grpcListener wraps l so that connections follow the service's mTLS
// mode, as the HTTP listener does, negotiating HTTP/2.
func (n *Node) grpcListener(l net.Listener) net.Listener {
	if n.identity == nil {
		return l
	}
	n.grpc.mu.Lock()
	if n.grpc.serverTLS == nil {
		n.grpc.serverTLS = rpc.ServerTLS(n.identity.ServerTLS())
	}
	cfg := n.grpc.serverTLS
	n.grpc.mu.Unlock()
	sl := security.NewListener(l, security.ListenerConfig{TLS: cfg, Mode: n.mode, Service: n.cfg.Service, Logger: n.logger})
	n.mu.Lock()
	n.listeners = append(n.listeners, sl)
	n.mu.Unlock()
	return sl
}

// drainGRPC starts the drain of the gRPC side: health checks answer
// NOT_SERVING from now on.
func (n *Node) drainGRPC() {
	n.grpc.mu.Lock()
	h := n.grpc.health
	n.grpc.mu.Unlock()
	if h != nil {
		h.Shutdown()
	}
}

// stopGRPC stops the gRPC servers gracefully, each in its own goroutine:
// GOAWAY, then the calls and streams in flight finish. The returned
// function waits for them, stopping at once those still running when ctx
// ends, then closes the node's channels; it returns the errors.
func (n *Node) stopGRPC(ctx context.Context) (wait func() []error) {
	n.mu.Lock()
	servers := n.grpc.servers
	n.grpc.servers = nil
	n.mu.Unlock()
	n.endHealthWatches()
	done := make([]chan struct{}, len(servers))
	for i, s := range servers {
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			s.GracefulStop()
		}()
	}
	return func() []error {
		var errs []error
		for i, s := range servers {
			select {
			case <-done[i]:
			case <-ctx.Done():
				s.Stop()
				<-done[i]
				errs = append(errs, fmt.Errorf("mesh: gRPC calls still in flight were cut: %w", ctx.Err()))
			}
		}
		n.closeGRPCChannels()
		return errs
	}
}

// closeGRPC stops the gRPC side at once, as Close does.
func (n *Node) closeGRPC() {
	n.mu.Lock()
	servers := n.grpc.servers
	n.grpc.servers = nil
	n.mu.Unlock()
	n.endHealthWatches()
	for _, s := range servers {
		s.Stop()
	}
	n.closeGRPCChannels()
}

func (n *Node) endHealthWatches() {
	n.grpc.mu.Lock()
	h := n.grpc.health
	n.grpc.mu.Unlock()
	if h != nil {
		h.EndWatches()
	}
}

func (n *Node) closeGRPCChannels() {
	g := &n.grpc
	g.mu.Lock()
	d := g.dialer
	g.closed = true
	g.made = nil
	g.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

func (n *Node) forgetGRPC(s *grpc.Server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.grpc.servers = slices.DeleteFunc(n.grpc.servers, func(x *grpc.Server) bool { return x == s })
}
