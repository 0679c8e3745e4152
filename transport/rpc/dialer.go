package rpc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/transport/observe"
)

// ErrClosed is returned by [Dialer.Dial] after [Dialer.Close].
var ErrClosed = errors.New("rpc: the dialer is closed: the node has shut down")

// Dialer makes gRPC channels to mesh services. Each channel is a thin
// adapter over the node's client engine: its resolver follows the
// engine's snapshot of the service, its balancer lets the engine pick
// among the endpoints it is connected to, and its interceptors run every
// call through the engine's scheduler. Channels therefore share with the
// node's HTTP clients what the engine keeps per destination: the retry
// budget, the breakers, the outlier detector. All methods are safe for
// concurrent use.
type Dialer struct {
	engine *engine.Engine

	mu       sync.Mutex // guards the fields below
	channels map[*channel]struct{}
	closed   bool
}

// NewDialer returns a dialer whose channels run their calls through eng.
func NewDialer(eng *engine.Engine) *Dialer {
	return &Dialer{engine: eng, channels: make(map[*channel]struct{})}
}

// Dial returns a channel to service: grpc.NewClient with a resolver fed
// from the engine's snapshots of the service, the Weft balancer,
// credentials that follow the service's mTLS mode and check the server's
// SPIFFE ID, and the interceptors that apply the policy's routes,
// timeouts, retries and hedges. grpc-go's own retries are disabled on it.
//
// opts are applied after the mesh's interceptors, so that the caller's
// interceptors run once per attempt, and before the mesh's credentials,
// resolver, balancer and retry settings, which they cannot replace. Like
// grpc.NewClient, Dial does not connect: the channel connects to every
// ready endpoint of service on its first call (or Connect). Close the
// channel when done with it; [Dialer.Close] closes those still open.
func (d *Dialer) Dial(service string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if !isDNSLabel(service) {
		return nil, fmt.Errorf("rpc: %q is not a mesh service name: use the service's name, a DNS label such as payments", service)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, ErrClosed
	}
	d.sweepLocked()
	ch := &channel{d: d, service: service}
	d.channels[ch] = struct{}{}
	d.mu.Unlock()
	d.engine.Want(service)

	all := make([]grpc.DialOption, 0, len(opts)+7)
	all = append(all,
		grpc.WithChainUnaryInterceptor(ch.unary),
		grpc.WithChainStreamInterceptor(ch.stream),
	)
	all = append(all, opts...)
	all = append(all,
		grpc.WithTransportCredentials(newClientCredentials(service, d.clientTLS)),
		grpc.WithResolvers(ch),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDisableServiceConfig(),
		grpc.WithDisableRetry(),
	)
	cc, err := grpc.NewClient(scheme+":///"+service, all...)
	if err != nil {
		d.mu.Lock()
		delete(d.channels, ch)
		d.mu.Unlock()
		return nil, fmt.Errorf("rpc: dial %s: %w", service, err)
	}
	ch.cc.Store(cc)
	return cc, nil
}

// serviceConfig selects the Weft balancer for every channel.
const serviceConfig = `{"loadBalancingConfig":[{"` + BalancerName + `":{}}]}`

// clientTLS returns the client configuration of connections to service
// under the engine's current snapshot, nil for plaintext.
func (d *Dialer) clientTLS(service string) *tls.Config {
	if dst := d.engine.Destination(service); dst != nil {
		return dst.TLS()
	}
	return nil
}

// Close closes every channel the dialer made that is still open. Dial
// fails with [ErrClosed] afterwards. Close is idempotent.
func (d *Dialer) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	var ccs []*grpc.ClientConn
	for ch := range d.channels {
		if cc := ch.cc.Load(); cc != nil {
			ccs = append(ccs, cc)
		}
	}
	d.mu.Unlock()
	for _, cc := range ccs {
		cc.Close() // an error means the caller closed it first
	}
}

// sweepLocked forgets the channels their users closed.
func (d *Dialer) sweepLocked() {
	for ch := range d.channels {
		if cc := ch.cc.Load(); cc != nil && cc.GetState() == connectivity.Shutdown {
			delete(d.channels, ch)
		}
	}
}

// Destinations returns the state of every service the dialer's open
// channels call, sorted by service, as gRPC clients see it. It is meant
// for introspection, not for the request path.
func (d *Dialer) Destinations() []observe.DestinationStatus {
	d.mu.Lock()
	d.sweepLocked()
	dialed := make(map[string]bool, len(d.channels))
	for ch := range d.channels {
		dialed[ch.service] = true
	}
	d.mu.Unlock()
	return d.engine.Status(engine.GRPC, func(s string) bool { return dialed[s] })
}

// isDNSLabel reports whether s can name a mesh service.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// channel is one gRPC channel made by a Dialer. It is the channel's
// resolver builder: gRPC builds a resolver when the channel leaves idle
// mode and closes it when the channel goes idle or closes.
type channel struct {
	d       *Dialer
	service string
	cc      atomic.Pointer[grpc.ClientConn]
}
