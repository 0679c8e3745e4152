package rpc

import (
	"sync"

	"github.com/weftmesh/weft/internal/engine"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
)

// BalancerName is the name the Weft balancer is registered under in
// grpc-go's balancer registry. Weft channels select it themselves; it is
// of no use to channels made otherwise, since it reads its endpoints'
// settings from the Weft resolver.
const BalancerName = "weft_mesh"

func init() {
	balancer.Register(balancerBuilder{})
}

type balancerBuilder struct{}

// Build implements balancer.Builder: an endpointsharding balancer with a
// pick_first child per endpoint, so that each endpoint has its own
// connection, made as soon as the endpoint appears.
func (balancerBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &weftBalancer{ClientConn: cc}
	b.child = endpointsharding.NewBalancer(b, opts, balancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	return b
}

func (balancerBuilder) Name() string { return BalancerName }

// weftBalancer passes the resolver's endpoints to endpointsharding and
// turns the children's states into a picker that lets the engine choose
// among the READY ones.
//
// gRPC serializes the calls it makes into the balancer; UpdateState comes
// from the children, on their own goroutines, sometimes from within
// UpdateClientConnState.
type weftBalancer struct {
	balancer.ClientConn // UpdateState is intercepted
	child               balancer.Balancer

	mu   sync.Mutex
	dest *engine.Destination
}

func (b *weftBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	dst, _ := s.ResolverState.Attributes.Value(destinationAttr{}).(*engine.Destination)
	b.mu.Lock()
	b.dest = dst
	b.mu.Unlock()
	err := b.child.UpdateClientConnState(balancer.ClientConnState{ResolverState: s.ResolverState})
	if len(s.ResolverState.Endpoints) == 0 {
		// The picker tells callers why there is no endpoint; gRPC need
		// not ask the resolver again, which learns of changes by itself.
		return nil
	}
	return err
}

func (b *weftBalancer) ResolverError(err error) { b.child.ResolverError(err) }

func (b *weftBalancer) UpdateSubConnState(balancer.SubConn, balancer.SubConnState) {}

func (b *weftBalancer) Close() { b.child.Close() }

func (b *weftBalancer) ExitIdle() { b.child.ExitIdle() }

// UpdateState receives the aggregated state of the children and hands
// gRPC the Weft picker over them.
func (b *weftBalancer) UpdateState(s balancer.State) {
	b.mu.Lock()
	dst := b.dest
	b.mu.Unlock()
	if dst == nil {
		b.ClientConn.UpdateState(s)
		return
	}
	p := newPicker(dst, endpointsharding.ChildStatesFromPicker(s.Picker))
	b.ClientConn.UpdateState(balancer.State{ConnectivityState: p.state(), Picker: p})
}

// state is the channel's connectivity state for the picker: READY when an
// endpoint is, CONNECTING while one may become so, else TRANSIENT_FAILURE.
func (p *picker) state() connectivity.State {
	switch {
	case len(p.children) > 0:
		return connectivity.Ready
	case p.connecting > 0:
		return connectivity.Connecting
	}
	return connectivity.TransientFailure
}
