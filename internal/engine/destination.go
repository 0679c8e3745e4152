package engine

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/zoneaware"
	"github.com/weftmesh/weft/transport/route"
)

// Protocol is a protocol whose endpoints the engine balances; its String
// is the protocol's name in catalog entries.
type Protocol uint8

// The protocols, each with its own endpoints in the catalog.
const (
	HTTP Protocol = iota
	GRPC
	numProtocols
)

func (p Protocol) String() string {
	if p == GRPC {
		return "grpc"
	}
	return "http"
}

// Destination is an immutable snapshot of one destination service: its
// settings, compiled routes and balancer, the ready endpoints of each
// protocol, and the state the service's calls share whatever their
// protocol (retry budget, breakers, outlier detection). A new snapshot
// replaces it when the catalog or the policy changes; calls keep the one
// they started with.
type Destination struct {
	// Service is the destination service's name.
	Service string

	engine  *Engine
	gen     uint64
	cfg     DestinationConfig
	st      *state
	routes  *route.Table // nil without routes
	builder resilience.Builder
	hashing bool        // the balancer is a resilience.Hashing one
	tls     *tls.Config // nil for plaintext
	sets    [numProtocols]endpointSet
	pickers [numProtocols]atomic.Pointer[Pickers] // over sets, made on first use
}

// endpointSet is the ready endpoints of one protocol.
type endpointSet struct {
	endpoints []*resilience.Endpoint
	unready   int // instances known but starting or draining
}

// state is what a destination keeps across snapshots while its
// configuration is unchanged: history a catalog change must not erase.
type state struct {
	cfg       DestinationConfig
	now       func() time.Time
	realClock bool // now is time.Now: a reading of the real clock serves both
	builder   resilience.Builder
	hashing   bool
	budget    *retry.Budget
	breakers  *breaker.Set      // nil without circuitBreaker
	outliers  *outlier.Detector // nil without outlierDetection
}

func newState(cfg DestinationConfig, zone string, now func() time.Time, realClock bool) (*state, error) {
	b, ok := resilience.Lookup(cfg.LoadBalancer)
	if !ok {
		// UpdateRouting checked the name; keep calls flowing regardless.
		b, _ = resilience.Lookup(DefaultLoadBalancer)
	}
	st := &state{cfg: cfg, now: now, realClock: realClock, budget: retry.NewBudget(cfg.Retries.Budget, now)}
	st.builder = b.New(resilience.BuildOptions{SlowStart: cfg.SlowStart.Window, Now: now})
	if cfg.ZoneAware.Enabled {
		st.builder = zoneaware.New(st.builder, zone, cfg.ZoneAware.MinHealthy)
	}
	_, st.hashing = b.(resilience.Hashing)
	var err error
	if cfg.CircuitBreaker != nil {
		if st.breakers, err = breaker.New(*cfg.CircuitBreaker, now); err != nil {
			return nil, err
		}
	}
	if cfg.OutlierDetection != nil {
		if st.outliers, err = outlier.New(*cfg.OutlierDetection, now); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// sameAs reports whether d holds what old holds: the same settings, routes
// and endpoints, in the same order.
func (d *Destination) sameAs(old *Destination) bool {
	if old == nil || d.st != old.st || d.routes != old.routes || d.tls != old.tls {
		return false
	}
	for p := range d.sets {
		a, b := d.sets[p], old.sets[p]
		if a.unready != b.unready || !slices.Equal(a.endpoints, b.endpoints) {
			return false
		}
	}
	return true
}

// Config returns the destination's configuration, defaults applied.
func (d *Destination) Config() DestinationConfig { return d.cfg }

// Routes returns the destination's compiled routes; nil without routes.
// A nil table matches no route.
func (d *Destination) Routes() *route.Table { return d.routes }

// Hashing reports whether the destination's balancer hashes requests, so
// that a call's hash key ([DestinationConfig] HashKey) matters.
func (d *Destination) Hashing() bool { return d.hashing }

// TLS returns the client configuration of mutual TLS connections to the
// destination's instances; nil for plaintext.
func (d *Destination) TLS() *tls.Config { return d.tls }

// Version numbers snapshots: a later snapshot of any destination has a
// higher version.
func (d *Destination) Version() uint64 { return d.gen }

// Endpoints returns the ready endpoints of protocol p, in a stable order.
// The slice must not be modified.
func (d *Destination) Endpoints(p Protocol) []*resilience.Endpoint { return d.sets[p].endpoints }

// Pickers returns the pickers over every ready endpoint of protocol p,
// made on first use and kept with the snapshot.
func (d *Destination) Pickers(p Protocol) *Pickers {
	if ps := d.pickers[p].Load(); ps != nil {
		return ps
	}
	ps := d.NewPickers(p, d.sets[p].endpoints)
	if !d.pickers[p].CompareAndSwap(nil, ps) {
		return d.pickers[p].Load()
	}
	return ps
}

// NewPickers returns pickers over eps, a subset of the ready endpoints of
// protocol p: a gRPC channel balances over the endpoints it is connected
// to.
func (d *Destination) NewPickers(p Protocol, eps []*resilience.Endpoint) *Pickers {
	ps := &Pickers{d: d, p: p, all: d.builder.Build(eps), eps: eps}
	if d.routes != nil {
		meta := func(ep *resilience.Endpoint) (string, map[string]string) { return ep.Version, ep.Labels }
		ps.subsets = make(map[string]subsetPicker)
		for name, members := range route.Partition(d.routes, eps, meta) {
			ps.subsets[name] = subsetPicker{d.builder.Build(members), len(members)}
		}
	}
	return ps
}

// Pickers balances a set of a destination's endpoints: one picker over
// all of them and one per subset of its routes.
type Pickers struct {
	d       *Destination
	p       Protocol
	all     resilience.Picker
	eps     []*resilience.Endpoint
	subsets map[string]subsetPicker // nil without routes
}

type subsetPicker struct {
	resilience.Picker
	n int
}

// Len returns the number of endpoints in subset ("" for all of them).
func (ps *Pickers) Len(subset string) int {
	if subset == "" {
		return len(ps.eps)
	}
	return ps.subsets[subset].n
}

// nodes returns the instances of the endpoints, the keys of their
// breakers.
func (ps *Pickers) nodes() []string {
	nodes := make([]string, len(ps.eps))
	for i, ep := range ps.eps {
		nodes[i] = ep.Node
	}
	return nodes
}

// Pick returns an endpoint of subset ("" for any) for info, without
// consulting breakers: for a mirrored copy, which must not count.
func (ps *Pickers) Pick(subset string, info resilience.PickInfo) (*resilience.Endpoint, error) {
	return ps.pick(subset, info)
}

// pick returns an endpoint of subset for info, or why there is none.
func (ps *Pickers) pick(subset string, info resilience.PickInfo) (*resilience.Endpoint, error) {
	picker, n := ps.all, len(ps.eps)
	if subset != "" {
		sp := ps.subsets[subset]
		picker, n = sp.Picker, sp.n
	}
	if n == 0 {
		return nil, ps.d.NoEndpoint(ps.p, subset)
	}
	ep, err := picker.Pick(info)
	if err != nil {
		return nil, fmt.Errorf("weft: service %q: %w", ps.d.Service, err)
	}
	return ep, nil
}

// NoEndpoint says why the destination has no endpoint of protocol p (in
// subset, when not "").
func (d *Destination) NoEndpoint(p Protocol, subset string) error {
	set := d.sets[p]
	switch {
	case subset != "" && len(set.endpoints) > 0:
		return fmt.Errorf("weft: service %q: %w: the route's subset %q has no ready endpoint", d.Service, ErrNoEndpoint, subset)
	case set.unready > 0:
		return fmt.Errorf("weft: service %q: %w: %d instance(s) known, none ready (starting or draining)", d.Service, ErrNoEndpoint, set.unready)
	case p == GRPC:
		return fmt.Errorf("weft: service %q: %w: no member of the mesh serves it over gRPC", d.Service, ErrNoEndpoint)
	}
	return fmt.Errorf("weft: service %q: %w: no member of the mesh hosts it", d.Service, ErrNoEndpoint)
}

// NoEndpoint returns the error of a call to service when the engine knows
// nothing of it.
func NoEndpoint(service string) error {
	return (&Destination{Service: service}).NoEndpoint(HTTP, "")
}
