package rpc

import (
	"sync"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"

	"github.com/weftmesh/weft/internal/engine"
)

// scheme is the target scheme of Weft channels. Each channel has its own
// resolver builder (grpc.WithResolvers): nothing is registered globally,
// so a "weft:///..." target outside a Weft channel resolves to nothing.
const scheme = "weft"

// Scheme implements resolver.Builder.
func (ch *channel) Scheme() string { return scheme }

// Build implements resolver.Builder: the resolver reports the engine's
// current snapshot of the service at once, then every new one.
func (ch *channel) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	r := &chanResolver{cc: cc}
	r.stop = ch.d.engine.Watch(ch.service, r.update)
	return r, nil
}

// chanResolver hands a channel the gRPC endpoints of its service, each
// carrying its *resilience.Endpoint, and the destination snapshot the
// balancer builds pickers from.
type chanResolver struct {
	cc   resolver.ClientConn
	stop func()

	mu      sync.Mutex // serializes updates; held while gRPC takes one
	version uint64     // of the last snapshot reported
}

// update reports dst unless a newer snapshot was reported already:
// snapshots made concurrently may arrive out of order.
func (r *chanResolver) update(dst *engine.Destination) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dst.Version() <= r.version {
		return
	}
	r.version = dst.Version()
	eps := dst.Endpoints(engine.GRPC)
	rs := make([]resolver.Endpoint, len(eps))
	for i, ep := range eps {
		rs[i] = resolver.Endpoint{
			Addresses:  []resolver.Address{{Addr: ep.Addr}},
			Attributes: attributes.New(endpointAttr{}, ep),
		}
	}
	// An error is the balancer's opinion of an empty list, which the
	// picker reports to callers itself.
	_ = r.cc.UpdateState(resolver.State{Endpoints: rs, Attributes: attributes.New(destinationAttr{}, dst)})
}

// ResolveNow implements resolver.Resolver. The engine pushes every
// change, so there is nothing to look up.
func (r *chanResolver) ResolveNow(resolver.ResolveNowOptions) {}

// Close implements resolver.Resolver.
func (r *chanResolver) Close() { r.stop() }

// Attribute keys.
type (
	endpointAttr    struct{}
	destinationAttr struct{}
)
