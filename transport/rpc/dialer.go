package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// ErrClosed is returned by [Dialer.Dial] after [Dialer.Close].
var ErrClosed = errors.New("rpc: the dialer is closed: the node has shut down")

// Catalog is where a [Dialer] learns of endpoints; *discovery.Membership
// implements it.
type Catalog interface {
	// View returns the current catalog; it must not block.
	View() *discovery.View
	// Subscribe calls fn with each new view, from one goroutine at a time,
	// until cancel is called.
	Subscribe(fn func(*discovery.View)) (cancel func())
}

// Dialer makes gRPC channels to mesh services and keeps every channel's
// endpoints and settings up to date with the catalog and the policy.
//
// Channels to one service share what HTTP clients of a node share per
// destination: the retry budget, the breakers, the outlier detector and
// the per-endpoint counters the balancers read. All methods are safe for
// concurrent use.
type Dialer struct {
	cfg     Config
	catalog Catalog
	logger  *slog.Logger
	gen     atomic.Uint64 // numbers destination snapshots

	mu       sync.Mutex // guards the fields below
	view     *discovery.View
	routing  transport.Routing
	tables   map[string]*route.Table
	services map[string]*service // services with channels
	unsub    func()
	closed   bool

	mirrors transport.Mirrors // mirrored calls in flight, as for HTTP
}

// service is what the channels to one destination service share.
type service struct {
	name     string
	channels map[*channel]struct{}
	state    *serviceState
	known    transport.EndpointCache // Endpoints reused across snapshots
	seen     bool                    // had ready endpoints in an earlier view
	dest     atomic.Pointer[destination]
}

// serviceState is what a service keeps across snapshots while its
// configuration is unchanged: history a catalog change must not erase.
type serviceState struct {
	cfg      transport.DestinationConfig
	retry    retry.Config // with defaults filled in
	budget   *retry.Budget
	breakers *breaker.Set      // nil without circuitBreaker
	outliers *outlier.Detector // nil without outlierDetection
}

// destination is an immutable snapshot of one service: its settings and
// its ready gRPC endpoints. The interceptors read the newest one per call;
// the balancer gets each through the channel's resolver.
type destination struct {
	gen     uint64
	service string
	cfg     transport.DestinationConfig
	*serviceState
	routes    *route.Table
	builder   resilience.Builder
	endpoints []*resilience.Endpoint                     // ready ones
	labels    map[*resilience.Endpoint]map[string]string // of endpoints
	unready   int                                        // instances starting or draining
}

// NewDialer returns a dialer for cfg, with the default routing (least
// request, 5 s timeout) until [Dialer.UpdateRouting] installs the policy's.
// catalog is required.
func NewDialer(cfg Config, catalog Catalog) *Dialer {
	return &Dialer{
		cfg:      cfg,
		catalog:  catalog,
		logger:   cfg.logger(),
		routing:  transport.Routing{Default: transport.DestinationConfig{LoadBalancer: leastrequest.Name, Timeout: 5 * time.Second}},
		services: make(map[string]*service),
	}
}

// UpdateRouting installs the routing part of a new policy: every channel
// follows it from its next call on, and its balancer rebuilds when the
// load balancer changes. Every balancer it names must exist and every
// route table compile; otherwise nothing changes.
func (d *Dialer) UpdateRouting(rt transport.Routing) error {
	if _, err := transport.BalancerBuilder(rt.Default, d.cfg.Zone); err != nil {
		return fmt.Errorf("rpc: defaults: %w", err)
	}
	for name, dc := range rt.Destinations {
		if _, err := transport.BalancerBuilder(dc, d.cfg.Zone); err != nil {
			return fmt.Errorf("rpc: service %q: %w", name, err)
		}
	}
	tables := make(map[string]*route.Table, len(rt.Routes))
	for name, rc := range rt.Routes {
		t, err := route.Compile(rc.Subsets, rc.Routes)
		if err != nil {
			return fmt.Errorf("rpc: service %q: %w", name, err)
		}
		tables[name] = t
	}
	if rt.Default.Timeout <= 0 {
		rt.Default.Timeout = 5 * time.Second
	}
	d.mu.Lock()
	d.routing, d.tables = rt, tables
	chans := d.rebuildLocked()
	d.mu.Unlock()
	push(chans)
	return nil
}

// updateCatalog installs a catalog view; it is the catalog subscription.
func (d *Dialer) updateCatalog(v *discovery.View) {
	d.mu.Lock()
	if d.closed || d.view != nil && v.Version() <= d.view.Version() {
		d.mu.Unlock()
		return
	}
	d.view = v
	chans := d.rebuildLocked()
	d.mu.Unlock()
	push(chans)
}

// Dial returns a channel to service: grpc.NewClient with a resolver fed
// from the catalog, the Weft balancer, credentials that follow the
// service's mTLS mode and check the server's SPIFFE ID, and the
// interceptors that apply the policy's routes, timeouts, retries and
// hedges. grpc-go's own retries are disabled on it.
//
// opts are applied after the mesh's interceptors, so that the caller's
// interceptors run once per attempt, and before the mesh's credentials,
// resolver, balancer and retry settings, which they cannot replace. Like
// grpc.NewClient, Dial does not connect: the channel connects to every
// ready endpoint of service on its first call (or Connect). Close the
// channel when done with it; [Dialer.Close] closes those still open.
func (d *Dialer) Dial(serviceName string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if !isDNSLabel(serviceName) {
		return nil, fmt.Errorf("rpc: %q is not a mesh service name: use the service's name, a DNS label such as payments", serviceName)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, ErrClosed
	}
	if d.unsub == nil {
		d.view = d.catalog.View()
		d.unsub = d.catalog.Subscribe(d.updateCatalog)
	}
	d.sweepLocked()
	svc := d.services[serviceName]
	if svc == nil {
		svc = &service{
			name:     serviceName,
			channels: make(map[*channel]struct{}),
			known: transport.EndpointCache{
				Endpoints: make(map[transport.EndpointKey]*resilience.Endpoint),
				Labels:    make(map[*resilience.Endpoint]map[string]string),
			},
		}
		d.services[serviceName] = svc
		svc.dest.Store(d.destinationLocked(svc))
	}
	ch := &channel{d: d, svc: svc}
	svc.channels[ch] = struct{}{}
	d.mu.Unlock()

	all := make([]grpc.DialOption, 0, len(opts)+7)
	all = append(all,
		grpc.WithChainUnaryInterceptor(ch.unary),
		grpc.WithChainStreamInterceptor(ch.stream),
	)
	all = append(all, opts...)
	all = append(all,
		grpc.WithTransportCredentials(newClientCredentials(serviceName, d.cfg.ClientTLS)),
		grpc.WithResolvers(ch),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDisableServiceConfig(),
		grpc.WithDisableRetry(),
	)
	cc, err := grpc.NewClient(scheme+":///"+serviceName, all...)
	if err != nil {
		d.mu.Lock()
		d.forgetLocked(ch)
		d.mu.Unlock()
		return nil, fmt.Errorf("rpc: dial %s: %w", serviceName, err)
	}
	ch.cc.Store(cc)
	return cc, nil
}

// serviceConfig selects the Weft balancer for every channel.
const serviceConfig = `{"loadBalancingConfig":[{"` + BalancerName + `":{}}]}`

// Close closes every channel the dialer made that is still open and stops
// following the catalog. Dial fails with [ErrClosed] afterwards. Close is
// idempotent.
func (d *Dialer) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	unsub := d.unsub
	var ccs []*grpc.ClientConn
	for _, svc := range d.services {
		for ch := range svc.channels {
			if cc := ch.cc.Load(); cc != nil {
				ccs = append(ccs, cc)
			}
		}
	}
	d.mu.Unlock()
	if unsub != nil {
		unsub()
	}
	d.mirrors.Close()
	for _, cc := range ccs {
		cc.Close() // an error means the caller closed it first
	}
}

// rebuildLocked makes a new snapshot of every service with channels and
// returns the channels whose resolver must hear of it.
func (d *Dialer) rebuildLocked() []*channelUpdate {
	var out []*channelUpdate
	for _, svc := range d.services {
		dst := d.destinationLocked(svc)
		if dst.sameAs(svc.dest.Load()) {
			// Most views change other services: keep the channels'
			// pickers, and the round robin's place in them.
			continue
		}
		svc.dest.Store(dst)
		for ch := range svc.channels {
			if ch.res != nil {
				out = append(out, &channelUpdate{res: ch.res, dest: dst})
			}
		}
	}
	return out
}

type channelUpdate struct {
	res  *chanResolver
	dest *destination
}

// push hands new snapshots to the channels' resolvers, outside the
// dialer's lock: gRPC handles an update synchronously.
func push(updates []*channelUpdate) {
	for _, u := range updates {
		u.res.update(u.dest)
	}
}

// destinationLocked returns a new snapshot of svc from the current view
// and routing.
func (d *Dialer) destinationLocked(svc *service) *destination {
	cfg, ok := d.routing.Destinations[svc.name]
	if !ok {
		cfg = d.routing.Default
	}
	if svc.state == nil || !reflect.DeepEqual(svc.state.cfg, cfg) {
		svc.state = newServiceState(cfg, d.logger, svc.name)
	}
	b, err := transport.BalancerBuilder(cfg, d.cfg.Zone)
	if err != nil { // UpdateRouting checked it; keep calls flowing regardless
		b = leastrequest.New()
	}
	dst := &destination{
		gen:          d.gen.Add(1),
		service:      svc.name,
		cfg:          cfg,
		serviceState: svc.state,
		routes:       d.tables[svc.name],
		builder:      b,
		labels:       make(map[*resilience.Endpoint]map[string]string),
	}
	live := make(map[transport.EndpointKey]bool)
	var instances []*discovery.Instance
	if d.view != nil {
		instances = d.view.Instances(svc.name)
	}
	// Slow start ramps up only what is new to a service already called,
	// as for HTTP.
	dst.endpoints, dst.unready = svc.known.Ready(instances, Protocol, svc.seen, live)
	for _, ep := range dst.endpoints {
		dst.labels[ep] = svc.known.Labels[ep]
	}
	svc.known.Prune(live)
	if len(dst.endpoints) > 0 {
		svc.seen = true
	}
	addrs := make([]string, len(dst.endpoints))
	for i, ep := range dst.endpoints {
		addrs[i] = ep.Addr
	}
	if b := dst.breakers; b != nil {
		b.Retain(addrs)
		for _, ep := range dst.endpoints {
			b.Attach(ep.Addr, ep)
		}
	}
	if o := dst.outliers; o != nil {
		o.SetEndpoints(addrs)
		for _, ep := range dst.endpoints {
			o.Attach(ep.Addr, ep)
		}
	}
	return dst
}

// sameAs reports whether dst holds what old holds: the same settings,
// routes and endpoints, in the same order.
func (dst *destination) sameAs(old *destination) bool {
	return old != nil && dst.serviceState == old.serviceState && dst.routes == old.routes &&
		dst.unready == old.unready && slices.Equal(dst.endpoints, old.endpoints)
}

// newServiceState makes the retry budget, breakers and outlier detector
// of cfg. A configuration the policy validated cannot fail here; should
// it, the service runs without breakers and outlier detection, and says so.
func newServiceState(cfg transport.DestinationConfig, logger *slog.Logger, name string) *serviceState {
	st := &serviceState{cfg: cfg, retry: retry.DefaultConfig()}
	if cfg.Retries != nil {
		st.retry = cfg.Retries.WithDefaults()
	}
	st.budget = retry.NewBudget(st.retry.Budget, nil)
	var err error
	if cfg.CircuitBreaker != nil {
		st.breakers, err = breaker.New(*cfg.CircuitBreaker, nil)
	}
	if err == nil && cfg.OutlierDetection != nil {
		st.outliers, err = outlier.New(*cfg.OutlierDetection, nil)
	}
	if err != nil {
		logger.Error("weft: invalid resilience settings; breakers and outlier detection are off", "service", name, "err", err)
		st.breakers, st.outliers = nil, nil
	}
	return st
}

// sweepLocked forgets the channels their users closed.
func (d *Dialer) sweepLocked() {
	for _, svc := range d.services {
		for ch := range svc.channels {
			if cc := ch.cc.Load(); cc != nil && cc.GetState() == connectivity.Shutdown {
				d.forgetLocked(ch)
			}
		}
	}
}

func (d *Dialer) forgetLocked(ch *channel) {
	delete(ch.svc.channels, ch)
	if len(ch.svc.channels) == 0 && d.services[ch.svc.name] == ch.svc {
		delete(d.services, ch.svc.name)
	}
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

// Destinations returns the state of every service the dialer's channels
// call, sorted by service, in the shape the router reports its HTTP
// destinations. It takes the dialer's lock briefly and is meant for
// introspection, not for the request path.
func (d *Dialer) Destinations() []transport.DestinationStatus {
	d.mu.Lock()
	dests := make([]*destination, 0, len(d.services))
	for _, svc := range d.services {
		dests = append(dests, svc.dest.Load())
	}
	d.mu.Unlock()
	slices.SortFunc(dests, func(a, b *destination) int { return strings.Compare(a.service, b.service) })
	now := time.Now().UnixNano()
	out := make([]transport.DestinationStatus, 0, len(dests))
	for _, dst := range dests {
		ds := transport.DestinationStatus{
			Protocol: Protocol,
			Service:  dst.service, LoadBalancer: dst.cfg.LoadBalancer,
			Ready: len(dst.endpoints), Unready: dst.unready,
			RetryBudget:      dst.budget.Available(),
			Breakers:         dst.breakers != nil,
			OutlierDetection: dst.outliers != nil,
			Endpoints:        make([]transport.EndpointStatus, 0, len(dst.endpoints)),
		}
		for _, ep := range dst.endpoints {
			ejected := ep.Ejected(now)
			es := transport.EndpointStatus{
				Addr: ep.Addr, Node: ep.Node, Zone: ep.Zone, Version: ep.Version,
				Labels: maps.Clone(dst.labels[ep]), Weight: max(ep.Weight, 1),
				InFlight: ep.InFlight(), LatencyMs: ep.Latency(now) / 1e6,
				Down: !ep.Available(now) && !ejected, Ejected: ejected,
			}
			if b := dst.breakers; b != nil {
				es.Breaker = b.State(ep.Addr).String()
			}
			if dst.routes != nil {
				for _, sub := range dst.routes.SubsetNames() {
					if s, ok := dst.routes.Subset(sub); ok && s.Selects(ep.Version, dst.labels[ep]) {
						es.Subsets = append(es.Subsets, sub)
					}
				}
			}
			ds.Endpoints = append(ds.Endpoints, es)
		}
		out = append(out, ds)
	}
	return out
}
