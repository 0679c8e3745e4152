package engine

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/route"
)

// Config describes the node whose clients an [Engine] serves.
type Config struct {
	// Source is the name of the calling service, sent with every call
	// (SourceHeader) so that servers can tell callers apart.
	Source string
	// Zone is the caller's zone, preferred by destinations with zoneAware.
	Zone string
	// Logger receives routing events. If nil, they are discarded.
	Logger *slog.Logger
	// Clock is the time balancers, breakers, outlier detection, the retry
	// budget, down marks and latency estimates read; deadlines and the
	// observer's timestamps follow the real clock. If nil, time.Now.
	Clock func() time.Time
	// TLS returns the client configuration of mutual TLS connections to
	// service's instances, or nil to reach them in plaintext. It is called
	// when a destination is rebuilt (a catalog or policy change), never
	// per call, and must return the same *tls.Config while the settings
	// are the same: a new one replaces the destination's connections. If
	// nil, every connection is plaintext.
	TLS func(service string) *tls.Config
}

// Engine is the protocol-neutral core of a node's clients: for every
// destination service it keeps one immutable [Destination] (the compiled
// routes, the balancer, the endpoints of each protocol, and the retry
// budget, breakers and outlier detector that HTTP and gRPC calls to the
// service share), rebuilt when the catalog or the policy changes and
// swapped atomically; and it runs calls ([Destination.Begin], [Run]):
// attempts, retries, backoff, hedges and mirrors, each attempt sent by a
// small function of the protocol's adapter.
//
// All methods are safe for concurrent use. Updates are serialized; calls
// read the current table without locks.
type Engine struct {
	cfg      Config
	now      func() time.Time
	logger   *slog.Logger
	table    atomic.Pointer[map[string]*Destination]
	observer atomic.Pointer[observerRef] // nil: nobody observes calls
	mirrors  Mirrors

	mu       sync.Mutex // serializes rebuilds; guards the fields below
	view     *discovery.View
	routing  Routing
	tables   map[string]*route.Table // compiled routing.Routes
	states   map[string]*state       // kept while a service's config is unchanged
	known    [numProtocols]EndpointCache
	seen     map[seenKey]bool // services that had ready endpoints in an earlier view
	watchers map[string]map[*watcher]struct{}
	wanted   map[string]bool // services a client was made for
	gen      uint64          // numbers snapshots
}

type seenKey struct {
	p       Protocol
	service string
}

type watcher struct{ fn func(*Destination) }

type observerRef struct{ observe.CallObserver }

// New returns an engine with an empty catalog and the default routing:
// every service gets [DestinationConfig.WithDefaults] of the zero config.
func New(cfg Config) *Engine {
	e := &Engine{
		cfg:      cfg,
		now:      cfg.Clock,
		logger:   cfg.Logger,
		tables:   make(map[string]*route.Table),
		states:   make(map[string]*state),
		seen:     make(map[seenKey]bool),
		watchers: make(map[string]map[*watcher]struct{}),
		wanted:   make(map[string]bool),
		routing:  Routing{Default: DestinationConfig{}.WithDefaults()},
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	for i := range e.known {
		e.known[i] = newEndpointCache()
	}
	e.mu.Lock()
	e.rebuildLocked()
	e.mu.Unlock()
	return e
}

// Source returns the name of the calling service.
func (e *Engine) Source() string { return e.cfg.Source }

// Logger returns the engine's logger.
func (e *Engine) Logger() *slog.Logger { return e.logger }

// Destination returns the current snapshot of service, or nil when the
// engine knows nothing of it: neither the policy nor the catalog names it,
// and no client wants it ([Engine.Want]).
func (e *Engine) Destination(service string) *Destination {
	return (*e.table.Load())[service]
}

// UpdateCatalog installs a new catalog view. Views older than the one
// installed are ignored.
func (e *Engine) UpdateCatalog(v *discovery.View) {
	e.mu.Lock()
	if e.view != nil && v.Version() < e.view.Version() {
		e.mu.Unlock()
		return
	}
	e.view = v
	changed := e.rebuildLocked()
	e.mu.Unlock()
	notify(changed)
}

// UpdateRouting installs the client side of a new policy, normalised by
// the policy package. Every balancer it names must be registered and every
// route table compile; otherwise nothing changes.
func (e *Engine) UpdateRouting(r Routing) error {
	check := func(what string, c DestinationConfig) error {
		if _, ok := resilience.Lookup(c.LoadBalancer); !ok {
			return fmt.Errorf("engine: %s: unknown load balancer %q", what, c.LoadBalancer)
		}
		return nil
	}
	if err := check("defaults", r.Default); err != nil {
		return err
	}
	for name, c := range r.Destinations {
		if err := check(fmt.Sprintf("service %q", name), c); err != nil {
			return err
		}
	}
	tables := make(map[string]*route.Table, len(r.Routes))
	for name, rc := range r.Routes {
		t, err := route.Compile(rc.Subsets, rc.Routes)
		if err != nil {
			return fmt.Errorf("engine: service %q: %w", name, err)
		}
		tables[name] = t
	}
	r.Destinations = maps.Clone(r.Destinations)
	e.mu.Lock()
	e.routing, e.tables = r, tables
	changed := e.rebuildLocked()
	e.mu.Unlock()
	notify(changed)
	return nil
}

// Want makes the engine keep a snapshot of service from now on, even
// while neither the policy nor the catalog names it, so that a client
// made for it (a gRPC channel) always finds one that says why the
// service has no endpoint.
func (e *Engine) Want(service string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wanted[service] {
		return
	}
	e.wanted[service] = true
	if e.Destination(service) == nil {
		e.rebuildLocked()
	}
}

// Watch calls fn with service's current snapshot, then with every new one
// until cancel is called, so that a protocol adapter that keeps state of
// its own per destination (a gRPC channel's balancer) follows changes.
// While watched, a service has a snapshot even when nothing else names it.
// fn is called outside the engine's lock, and two updates made at once
// may reach it concurrently and out of order: it serializes them itself
// and drops a snapshot older ([Destination.Version]) than one it has. fn
// must not call back into the engine's update methods.
func (e *Engine) Watch(service string, fn func(*Destination)) (cancel func()) {
	w := &watcher{fn: fn}
	e.mu.Lock()
	ws := e.watchers[service]
	if ws == nil {
		ws = make(map[*watcher]struct{})
		e.watchers[service] = ws
	}
	ws[w] = struct{}{}
	d := e.Destination(service)
	if d == nil {
		e.rebuildLocked()
		d = e.Destination(service)
	}
	e.mu.Unlock()
	fn(d)
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.watchers[service], w)
		if len(e.watchers[service]) == 0 {
			delete(e.watchers, service)
		}
	}
}

// SetObserver makes o see every call the engine runs from now on; nil
// stops observing. It may be called at any time.
func (e *Engine) SetObserver(o observe.CallObserver) {
	if o == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&observerRef{o})
}

// Observer returns the observer set with SetObserver, or nil.
func (e *Engine) Observer() observe.CallObserver {
	if ref := e.observer.Load(); ref != nil {
		return ref.CallObserver
	}
	return nil
}

// Close cancels the mirrored calls still in flight and waits for them.
// Calls made after Close still work but are no longer mirrored.
func (e *Engine) Close() { e.mirrors.Close() }

// update is a snapshot to hand to the watchers of its service.
type update struct {
	d        *Destination
	watchers []*watcher
}

// notify hands new snapshots to their watchers, outside the engine's
// lock: a gRPC channel takes an update synchronously.
func notify(updates []update) {
	for _, u := range updates {
		for _, w := range u.watchers {
			w.fn(u.d)
		}
	}
}

// rebuildLocked makes a new snapshot of every service the policy, the
// catalog or a watcher names, keeping the old snapshot of a service whose
// settings and endpoints did not change, and returns the changed ones
// that are watched.
func (e *Engine) rebuildLocked() []update {
	old := e.table.Load()
	names := slices.Collect(maps.Keys(e.routing.Destinations))
	if e.view != nil {
		names = append(names, e.view.Services()...)
	}
	for svc := range e.watchers {
		names = append(names, svc)
	}
	for svc := range e.wanted {
		names = append(names, svc)
	}
	dests := make(map[string]*Destination, len(names))
	var live [numProtocols]map[EndpointKey]bool
	for i := range live {
		live[i] = make(map[EndpointKey]bool)
	}
	var changed []update
	for _, svc := range names {
		if _, done := dests[svc]; done {
			continue
		}
		d := e.destinationLocked(svc, live)
		if old != nil {
			if prev := (*old)[svc]; d.sameAs(prev) {
				d = prev
			}
		}
		dests[svc] = d
		if ws := e.watchers[svc]; len(ws) > 0 && (old == nil || (*old)[svc] != d) {
			changed = append(changed, update{d: d, watchers: slices.Collect(maps.Keys(ws))})
		}
	}
	for i := range e.known {
		e.known[i].Prune(live[i])
	}
	for svc := range e.states {
		if _, ok := dests[svc]; !ok {
			delete(e.states, svc)
		}
	}
	e.table.Store(&dests)
	return changed
}

// destinationLocked makes a snapshot of svc from the current view and
// routing, marking the endpoints it keeps in live.
func (e *Engine) destinationLocked(svc string, live [numProtocols]map[EndpointKey]bool) *Destination {
	cfg := e.routing.destination(svc)
	st := e.stateLocked(svc, cfg)
	d := &Destination{
		Service: svc,
		engine:  e,
		cfg:     cfg,
		st:      st,
		routes:  e.tables[svc],
		builder: st.builder,
		hashing: st.hashing,
	}
	if e.cfg.TLS != nil {
		d.tls = e.cfg.TLS(svc)
	}
	var instances []*discovery.Instance
	if e.view != nil {
		instances = e.view.Instances(svc)
	}
	byNode := make(map[string][]*resilience.Endpoint)
	for p := range numProtocols {
		seen := e.seen[seenKey{p, svc}]
		// Slow start ramps up only what is new to a service already
		// called.
		eps, unready := e.known[p].Ready(instances, p.String(), seen, live[p], e.now)
		d.sets[p] = endpointSet{endpoints: eps, unready: unready}
		if len(eps) > 0 {
			e.seen[seenKey{p, svc}] = true
		}
		for _, ep := range eps {
			byNode[ep.Node] = append(byNode[ep.Node], ep)
		}
	}
	// Breakers and outlier detection judge instances: an instance that
	// fails over HTTP is out of picking for gRPC too.
	nodes := slices.Sorted(maps.Keys(byNode))
	if b := st.breakers; b != nil {
		b.Retain(nodes)
		for _, n := range nodes {
			b.Attach(n, marker(byNode[n]))
		}
	}
	if o := st.outliers; o != nil {
		o.SetEndpoints(nodes)
		for _, n := range nodes {
			o.Attach(n, marker(byNode[n]))
		}
	}
	e.gen++
	d.gen = e.gen
	return d
}

// marker ejects every endpoint of one instance.
type marker []*resilience.Endpoint

func (m marker) Eject(until time.Time) {
	for _, ep := range m {
		ep.Eject(until)
	}
}

// stateLocked returns the service's kept state, new if its configuration
// changed. A configuration the policy validated cannot fail here; should
// it, the service runs without breakers and outlier detection, and says so.
func (e *Engine) stateLocked(svc string, cfg DestinationConfig) *state {
	if st := e.states[svc]; st != nil && reflect.DeepEqual(st.cfg, cfg) {
		return st
	}
	st, err := newState(cfg, e.cfg.Zone, e.now, e.cfg.Clock == nil)
	if err != nil {
		e.logger.Error("weft: invalid resilience settings; breakers and outlier detection are off", "service", svc, "err", err)
		st, _ = newState(DestinationConfig{LoadBalancer: cfg.LoadBalancer, Timeout: cfg.Timeout, Retries: cfg.Retries}, e.cfg.Zone, e.now, e.cfg.Clock == nil)
	}
	e.states[svc] = st
	return st
}
