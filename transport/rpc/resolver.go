package rpc

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"
)

// scheme is the target scheme of Weft channels. Each channel has its own
// resolver builder (grpc.WithResolvers): nothing is registered globally,
// so a "weft:///..." target outside a Weft channel resolves to nothing.
const scheme = "weft"

// channel is one gRPC channel made by a Dialer. It is the channel's
// resolver builder: gRPC builds a resolver when the channel leaves idle
// mode and closes it when the channel goes idle or closes.
type channel struct {
	d   *Dialer
	svc *service
	cc  atomic.Pointer[grpc.ClientConn]
	res *chanResolver // the live resolver, nil while idle; guarded by d.mu
}

// Scheme implements resolver.Builder.
func (ch *channel) Scheme() string { return scheme }

// Build implements resolver.Builder: the resolver reports the service's
// current snapshot at once, then every new one the dialer makes.
func (ch *channel) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	r := &chanResolver{ch: ch, cc: cc}
	ch.d.mu.Lock()
	ch.res = r
	dst := ch.svc.dest.Load()
	ch.d.mu.Unlock()
	r.update(dst)
	return r, nil
}

// chanResolver hands a channel the endpoints of its service, each
// carrying its *resilience.Endpoint, and the destination snapshot the
// balancer builds pickers from.
type chanResolver struct {
	ch *channel
	cc resolver.ClientConn

	mu  sync.Mutex // serializes updates; held while gRPC takes one
	gen uint64     // of the last snapshot reported
}

// update reports dst unless a newer snapshot was reported already:
// snapshots made concurrently may arrive out of order.
func (r *chanResolver) update(dst *destination) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dst.gen <= r.gen {
		return
	}
	r.gen = dst.gen
	eps := make([]resolver.Endpoint, len(dst.endpoints))
	for i, ep := range dst.endpoints {
		eps[i] = resolver.Endpoint{
			Addresses:  []resolver.Address{{Addr: ep.Addr}},
			Attributes: attributes.New(endpointAttr{}, ep),
		}
	}
	// An error is the balancer's opinion of an empty list, which the
	// picker reports to callers itself.
	_ = r.cc.UpdateState(resolver.State{Endpoints: eps, Attributes: attributes.New(destinationAttr{}, dst)})
}

// ResolveNow implements resolver.Resolver. The catalog pushes every
// change, so there is nothing to look up.
func (r *chanResolver) ResolveNow(resolver.ResolveNowOptions) {}

// Close implements resolver.Resolver. A channel its user closed is
// forgotten; an idle one keeps its place.
func (r *chanResolver) Close() {
	d := r.ch.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.ch.res == r {
		r.ch.res = nil
	}
	d.sweepLocked()
}

// Attribute keys.
type (
	endpointAttr    struct{}
	destinationAttr struct{}
)
