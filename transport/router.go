package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

// Protocol is the catalog protocol of the endpoints this package dials.
const Protocol = "http"

// Routing is the part of the policy the client side follows.
type Routing struct {
	// Destinations holds the effective configuration of every service the
	// policy names, with defaults already filled in.
	Destinations map[string]DestinationConfig
	// Default applies to services the policy does not name.
	Default DestinationConfig
	// Egress controls hosts that are not mesh services.
	Egress EgressConfig
}

// RouterConfig configures a [Router].
type RouterConfig struct {
	// Base sends requests to mesh endpoints. If nil, a new
	// *http.Transport tuned for many keep-alive connections per host.
	Base http.RoundTripper
	// Egress sends requests to hosts outside the mesh. If nil, a clone of
	// http.DefaultTransport made when the router is created.
	Egress http.RoundTripper
	// Logger receives routing events. If nil, they are discarded.
	Logger *slog.Logger
}

// Router keeps the route table clients read: for every mesh service, its
// configuration and a picker over its ready endpoints.
//
// Update methods may be called from any goroutine; they are serialized.
// Clients read the table without locks.
type Router struct {
	base, egress http.RoundTripper
	closeIdle    []func()
	logger       *slog.Logger

	table atomic.Pointer[routeTable]

	mu        sync.Mutex // serializes rebuilds; guards the fields below
	view      *discovery.View
	routing   Routing
	endpoints map[endpointKey]*resilience.Endpoint // reused across rebuilds
}

type endpointKey struct{ node, addr string }

// routeTable is an immutable snapshot of everything a request needs.
type routeTable struct {
	dests    map[string]*destination
	fallback DestinationConfig
	egress   egressPolicy
}

// destination is one mesh service as clients see it.
type destination struct {
	service string
	cfg     DestinationConfig
	picker  resilience.Picker
	ready   int      // endpoints in the picker
	addrs   []string // their addresses, for introspection
	unready int      // instances known but starting or draining
}

var builders = map[string]resilience.Builder{
	roundrobin.Name:   roundrobin.New(),
	leastrequest.Name: leastrequest.New(),
}

// NewRouter returns a router with an empty catalog and the default
// routing (least request, 5 s timeout, any egress host).
func NewRouter(cfg RouterConfig) *Router {
	r := &Router{base: cfg.Base, egress: cfg.Egress, logger: cfg.Logger}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.base == nil {
		t := newMeshTransport()
		r.base = t
		r.closeIdle = append(r.closeIdle, t.CloseIdleConnections)
	}
	if r.egress == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		r.egress = t
		r.closeIdle = append(r.closeIdle, t.CloseIdleConnections)
	}
	r.endpoints = make(map[endpointKey]*resilience.Endpoint)
	r.routing = Routing{Default: DestinationConfig{LoadBalancer: leastrequest.Name, Timeout: 5 * time.Second}}
	r.rebuildLocked()
	return r
}

// newMeshTransport returns the transport for connections to mesh
// endpoints: many idle connections per endpoint, since one client sends a
// service's whole load to a handful of addresses.
func newMeshTransport() *http.Transport {
	return &http.Transport{
		DialContext:           dialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

var dialer = &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}

// dialContext marks connection failures so that the client knows the
// request was never sent.
func dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &connectError{addr: addr, err: err}
	}
	return c, nil
}

// UpdateCatalog installs a new catalog view.
func (r *Router) UpdateCatalog(v *discovery.View) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.view = v
	r.rebuildLocked()
}

// UpdateRouting installs new routing configuration. Every builder it names
// must exist; the policy validates that before it gets here.
func (r *Router) UpdateRouting(rt Routing) error {
	for name, d := range rt.Destinations {
		if _, ok := builders[d.LoadBalancer]; !ok {
			return fmt.Errorf("transport: service %q: unknown load balancer %q", name, d.LoadBalancer)
		}
	}
	if _, ok := builders[rt.Default.LoadBalancer]; !ok {
		return fmt.Errorf("transport: unknown default load balancer %q", rt.Default.LoadBalancer)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routing = rt
	r.rebuildLocked()
	return nil
}

// CloseIdleConnections closes the idle connections of the transports the
// router created.
func (r *Router) CloseIdleConnections() {
	for _, f := range r.closeIdle {
		f()
	}
}

func (r *Router) rebuildLocked() {
	t := &routeTable{
		dests:    make(map[string]*destination),
		fallback: r.routing.Default,
		egress:   newEgressPolicy(r.routing.Egress),
	}
	live := make(map[endpointKey]bool)
	names := slices.Collect(maps.Keys(r.routing.Destinations))
	if r.view != nil {
		names = append(names, r.view.Services()...)
	}
	for _, svc := range names {
		if _, done := t.dests[svc]; done {
			continue
		}
		cfg, ok := r.routing.Destinations[svc]
		if !ok {
			cfg = r.routing.Default
		}
		d := &destination{service: svc, cfg: cfg}
		var eps []*resilience.Endpoint
		if r.view != nil {
			for _, in := range r.view.Instances(svc) {
				e, ok := in.EndpointFor(Protocol)
				if !ok {
					continue
				}
				if in.State != discovery.StateReady {
					d.unready++
					continue
				}
				k := endpointKey{in.Node, e.Addr}
				ep := r.endpoints[k]
				if ep == nil || ep.Weight != in.Weight || ep.Zone != in.Zone || ep.Version != in.Version {
					ep = &resilience.Endpoint{Addr: e.Addr, Node: in.Node, Zone: in.Zone, Version: in.Version, Weight: in.Weight}
					r.endpoints[k] = ep
				}
				live[k] = true
				eps = append(eps, ep)
			}
		}
		d.ready = len(eps)
		for _, ep := range eps {
			d.addrs = append(d.addrs, ep.Addr)
		}
		d.picker = builders[cfg.LoadBalancer].Build(eps)
		t.dests[svc] = d
	}
	for k := range r.endpoints {
		if !live[k] {
			delete(r.endpoints, k)
		}
	}
	r.table.Store(t)
}

// Endpoints returns the addresses clients currently balance service's
// requests over.
func (r *Router) Endpoints(service string) []string {
	if d := r.table.Load().dests[service]; d != nil {
		return slices.Clone(d.addrs)
	}
	return nil
}

// egressPolicy decides which non-mesh hosts clients may reach.
type egressPolicy struct {
	any      bool
	exact    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"
}

func newEgressPolicy(c EgressConfig) egressPolicy {
	if c.Allow == nil {
		return egressPolicy{any: true}
	}
	p := egressPolicy{exact: make(map[string]bool)}
	for _, h := range c.Allow {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			p.suffixes = append(p.suffixes, suffix)
			continue
		}
		p.exact[h] = true
	}
	return p
}

func (p egressPolicy) allows(host string) bool {
	if p.any {
		return true
	}
	host = strings.ToLower(host)
	if p.exact[host] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// connectError reports that a connection to an endpoint could not be
// made, so the request was never sent.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string { return "connect to " + e.addr + ": " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// isConnectError reports whether err means the connection was never
// made. Besides the router's own dialer, it recognizes the standard
// library's dial errors, so a caller-supplied base transport gets the same
// retry.
func isConnectError(err error) bool {
	var ce *connectError
	if errors.As(err, &ce) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
