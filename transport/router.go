package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/peakewma"
	"github.com/weftmesh/weft/resilience/random"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/resilience/roundrobin"
	"github.com/weftmesh/weft/transport/route"
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
	// Routes holds the subsets and routes of the services that have any.
	Routes map[string]route.Config
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
	// Source is the name of the service whose clients use the router,
	// sent as SourceHeader so that servers can tell callers apart.
	Source string
	// Zone is the caller's zone, preferred by destinations with zoneAware.
	Zone string
	// TLS returns the client configuration of mutual TLS connections to
	// service's endpoints, or nil to connect to them in plaintext through
	// Base. It is called whenever the route table is rebuilt and must
	// return the same *tls.Config while the settings are the same: a new
	// one replaces the service's connections. If nil, every connection is
	// plaintext.
	TLS func(service string) *tls.Config
}

// Router keeps the route table clients read: for every mesh service, its
// configuration and a picker over its ready endpoints.
//
// Update methods may be called from any goroutine; they are serialized.
// Clients read the table without locks.
type Router struct {
	base, egress http.RoundTripper
	tlsFor       func(service string) *tls.Config
	closeIdle    []func()
	logger       *slog.Logger
	source       string
	zone         string

	table atomic.Pointer[routeTable]

	mu        sync.Mutex // serializes rebuilds; guards the fields below
	view      *discovery.View
	routing   Routing
	tables    map[string]*route.Table              // compiled routing.Routes
	states    map[string]*serviceState             // kept while a service's config is unchanged
	endpoints map[EndpointKey]*resilience.Endpoint // reused across rebuilds; see EndpointCache
	labels    map[*resilience.Endpoint]map[string]string
	seen      map[string]bool   // services that had ready endpoints in an earlier view
	conns     map[string]*conns // TLS connection pools, by service
	retired   []*http.Transport // replaced pools, whose busy connections go idle later

	mirrors Mirrors // mirrored requests in flight

	observer atomic.Pointer[observerRef] // nil: nobody observes calls
}

// routeTable is an immutable snapshot of everything a request needs.
type routeTable struct {
	dests  map[string]*destination
	egress egressPolicy
}

// destination is one mesh service as clients see it.
type destination struct {
	service string
	cfg     DestinationConfig
	state   *serviceState
	routes  *route.Table
	picker  resilience.Picker            // over every ready endpoint
	subsets map[string]resilience.Picker // over each subset's ready endpoints
	ready   int                          // endpoints in the picker
	addrs   []string                     // their addresses, for introspection
	eps     []*resilience.Endpoint       // the endpoints themselves, likewise
	unready int                          // instances known but starting or draining
	conns   *conns                       // how its endpoints are reached
}

// pickerFor returns the picker of subset, or of every endpoint for "".
func (d *destination) pickerFor(subset string) resilience.Picker {
	if subset == "" {
		return d.picker
	}
	return d.subsets[subset]
}

// serviceState is what a destination keeps across rebuilds: the retry
// budget, breakers and outlier detector carry history that a catalog change
// must not erase. It is replaced when the service's configuration changes.
type serviceState struct {
	cfg      DestinationConfig
	retry    retry.Config // with defaults filled in
	budget   *retry.Budget
	breakers *breaker.Set      // nil without circuitBreaker
	outliers *outlier.Detector // nil without outlierDetection
}

func newServiceState(cfg DestinationConfig) (*serviceState, error) {
	st := &serviceState{cfg: cfg, retry: retry.DefaultConfig()}
	if cfg.Retries != nil {
		st.retry = cfg.Retries.WithDefaults()
	}
	st.budget = retry.NewBudget(st.retry.Budget, nil)
	var err error
	if cfg.CircuitBreaker != nil {
		if st.breakers, err = breaker.New(*cfg.CircuitBreaker, nil); err != nil {
			return nil, err
		}
	}
	if cfg.OutlierDetection != nil {
		if st.outliers, err = outlier.New(*cfg.OutlierDetection, nil); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// builders maps the policy's balancer names to their constructors.
var builders = map[string]func(...resilience.BuildOptions) resilience.Builder{
	roundrobin.Name:   roundrobin.New,
	leastrequest.Name: leastrequest.New,
	peakewma.Name:     peakewma.New,
	ringhash.Name:     ringhash.New,
	random.Name:       random.New,
}

// builder returns the picker builder cfg asks for.
func (r *Router) builder(cfg DestinationConfig) resilience.Builder {
	b, _ := BalancerBuilder(cfg, r.zone) // UpdateRouting checked the name
	return b
}

// NewRouter returns a router with an empty catalog and the default
// routing (least request, 5 s timeout, any egress host).
func NewRouter(cfg RouterConfig) *Router {
	r := &Router{base: cfg.Base, egress: cfg.Egress, tlsFor: cfg.TLS, logger: cfg.Logger, source: cfg.Source, zone: cfg.Zone}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.base == nil {
		t := newMeshTransport()
		r.base = t
		r.closeIdle = append(r.closeIdle, t.CloseIdleConnections)
	}
	if r.egress == nil {
		t := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			t = dt.Clone() // the user's settings, if they changed the default
		}
		r.egress = t
		r.closeIdle = append(r.closeIdle, t.CloseIdleConnections)
	}
	r.endpoints = make(map[EndpointKey]*resilience.Endpoint)
	r.labels = make(map[*resilience.Endpoint]map[string]string)
	r.seen = make(map[string]bool)
	r.conns = make(map[string]*conns)
	r.states = make(map[string]*serviceState)
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
	if rt.Default.LoadBalancer == "" {
		rt.Default.LoadBalancer = leastrequest.Name
	}
	rt.Destinations = maps.Clone(rt.Destinations)
	for name, d := range rt.Destinations {
		if d.LoadBalancer == "" {
			d.LoadBalancer = leastrequest.Name
			rt.Destinations[name] = d
		}
		if _, ok := builders[d.LoadBalancer]; !ok {
			return fmt.Errorf("transport: service %q: unknown load balancer %q", name, d.LoadBalancer)
		}
	}
	if _, ok := builders[rt.Default.LoadBalancer]; !ok {
		return fmt.Errorf("transport: unknown default load balancer %q", rt.Default.LoadBalancer)
	}
	tables := make(map[string]*route.Table, len(rt.Routes))
	for name, rc := range rt.Routes {
		t, err := route.Compile(rc.Subsets, rc.Routes)
		if err != nil {
			return fmt.Errorf("transport: service %q: %w", name, err)
		}
		tables[name] = t
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routing, r.tables = rt, tables
	r.rebuildLocked()
	return nil
}

// Close cancels the mirrored requests still in flight, waits for them and
// closes idle connections. Requests sent after Close still work but are no
// longer mirrored.
func (r *Router) Close() {
	r.mirrors.Close()
	r.CloseIdleConnections()
}

// CloseIdleConnections closes the idle connections of the transports the
// router created.
func (r *Router) CloseIdleConnections() {
	for _, f := range r.closeIdle {
		f()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.rt.CloseIdleConnections()
	}
	for _, t := range r.retired {
		t.CloseIdleConnections()
	}
}

func (r *Router) rebuildLocked() {
	t := &routeTable{
		dests:  make(map[string]*destination),
		egress: newEgressPolicy(r.routing.Egress),
	}
	live := make(map[EndpointKey]bool)
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
		d := &destination{service: svc, cfg: cfg, state: r.stateLocked(svc, cfg), routes: r.tables[svc], conns: r.connsLocked(svc)}
		eps := r.readyEndpointsLocked(d, live)
		d.ready = len(eps)
		d.eps = eps
		for _, ep := range eps {
			d.addrs = append(d.addrs, ep.Addr) // also the breaker and outlier keys
		}
		build := r.builder(cfg)
		d.picker = build.Build(eps)
		if d.routes != nil {
			d.subsets = make(map[string]resilience.Picker)
			parts := route.Partition(d.routes, eps, func(ep *resilience.Endpoint) (string, map[string]string) {
				return ep.Version, r.labels[ep]
			})
			for name, members := range parts {
				d.subsets[name] = build.Build(members)
			}
		}
		if b := d.state.breakers; b != nil {
			b.Retain(d.addrs)
			for _, ep := range eps {
				b.Attach(ep.Addr, ep)
			}
		}
		if o := d.state.outliers; o != nil {
			o.SetEndpoints(d.addrs)
			for _, ep := range eps {
				o.Attach(ep.Addr, ep)
			}
		}
		t.dests[svc] = d
	}
	EndpointCache{Endpoints: r.endpoints, Labels: r.labels}.Prune(live)
	for svc := range r.states {
		if _, ok := t.dests[svc]; !ok {
			delete(r.states, svc)
		}
	}
	for svc, c := range r.conns {
		if _, ok := t.dests[svc]; !ok {
			delete(r.conns, svc)
			r.retireLocked(c.rt)
		}
	}
	r.table.Store(t)
}

// stateLocked returns the service's kept state, new if its configuration
// changed. A configuration the policy validated cannot fail here; should
// it, the service runs without breakers and outlier detection, and says so.
func (r *Router) stateLocked(svc string, cfg DestinationConfig) *serviceState {
	if st := r.states[svc]; st != nil && reflect.DeepEqual(st.cfg, cfg) {
		return st
	}
	st, err := newServiceState(cfg)
	if err != nil {
		r.logger.Error("weft: invalid resilience settings; breakers and outlier detection are off", "service", svc, "err", err)
		st, _ = newServiceState(DestinationConfig{Retries: cfg.Retries})
	}
	r.states[svc] = st
	return st
}

// readyEndpointsLocked returns the endpoints of d's ready instances,
// reusing the Endpoint of an unchanged instance so that its counters
// survive, and counts the instances that are not ready.
func (r *Router) readyEndpointsLocked(d *destination, live map[EndpointKey]bool) []*resilience.Endpoint {
	if r.view == nil {
		return nil
	}
	known := EndpointCache{Endpoints: r.endpoints, Labels: r.labels}
	// Slow start ramps up only what is new to a service already called.
	eps, unready := known.Ready(r.view.Instances(d.service), Protocol, r.seen[d.service], live)
	d.unready += unready
	if len(eps) > 0 {
		r.seen[d.service] = true
	}
	return eps
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
