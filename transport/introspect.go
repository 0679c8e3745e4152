package transport

import (
	"maps"
	"slices"
	"time"
)

// DestinationStatus is one destination service as the router's clients
// see it, for the admin endpoint.
type DestinationStatus struct {
	Service string `json:"service"`
	// Protocol is "http" or "grpc": a service served over both has one
	// entry for each, balanced separately.
	Protocol     string `json:"protocol"`
	LoadBalancer string `json:"loadBalancer"`
	// Ready counts the endpoints clients balance over; Unready the
	// instances known but starting or draining.
	Ready   int `json:"ready"`
	Unready int `json:"unready,omitempty"`
	// RetryBudget is how many retries or hedges the budget would allow
	// right now.
	RetryBudget int `json:"retryBudget"`
	// Breakers and OutlierDetection report whether the policy turns them
	// on for the service.
	Breakers         bool             `json:"breakers,omitempty"`
	OutlierDetection bool             `json:"outlierDetection,omitempty"`
	Endpoints        []EndpointStatus `json:"endpoints"`
}

// EndpointStatus is one endpoint with the balancer's view of it.
type EndpointStatus struct {
	Addr    string            `json:"addr"`
	Node    string            `json:"node"`
	Zone    string            `json:"zone,omitempty"`
	Version string            `json:"version,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Weight  uint32            `json:"weight"`
	// Subsets lists the policy's subsets that hold the endpoint.
	Subsets []string `json:"subsets,omitempty"`
	// InFlight counts requests outstanding from this node's clients.
	InFlight int64 `json:"inFlight"`
	// LatencyMs is the peak-sensitive latency average peak_ewma balances
	// on (failed tries count as slow), decayed to now; 0 before the first
	// response.
	LatencyMs float64 `json:"latencyMs"`
	// Down reports a refused connection that keeps the endpoint out of
	// picking for a few seconds; Ejected that a breaker or outlier
	// detection took it out.
	Down    bool `json:"down,omitempty"`
	Ejected bool `json:"ejected,omitempty"`
	// Breaker is the endpoint's circuit breaker: "closed", "open" or
	// "half-open"; "" without breakers.
	Breaker string `json:"breaker,omitempty"`
	// SlowStart is the share of its full weight the endpoint gets while
	// slow start ramps it up (0.1 to 1); 0 once ramped up or without
	// slow start.
	SlowStart float64 `json:"slowStart,omitempty"`
}

// Destinations returns the state of every destination the router knows,
// sorted by service. It takes the router's lock briefly and is meant for
// introspection, not for the request path.
func (r *Router) Destinations() []DestinationStatus {
	t := r.table.Load()
	now := time.Now().UnixNano()
	names := slices.Sorted(maps.Keys(t.dests))
	out := make([]DestinationStatus, 0, len(names))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range names {
		d := t.dests[name]
		ds := DestinationStatus{
			Protocol: Protocol,
			Service:  name, LoadBalancer: d.cfg.LoadBalancer,
			Ready: d.ready, Unready: d.unready,
			RetryBudget:      d.state.budget.Available(),
			Breakers:         d.state.breakers != nil,
			OutlierDetection: d.state.outliers != nil,
			Endpoints:        make([]EndpointStatus, 0, len(d.eps)),
		}
		for _, ep := range d.eps {
			ejected := ep.Ejected(now)
			es := EndpointStatus{
				Addr: ep.Addr, Node: ep.Node, Zone: ep.Zone, Version: ep.Version,
				Labels: maps.Clone(r.labels[ep]), Weight: ep.Weight,
				InFlight: ep.InFlight(), LatencyMs: ep.Latency(now) / 1e6,
				Down: !ep.Available(now) && !ejected, Ejected: ejected,
			}
			if es.Weight == 0 {
				es.Weight = 1
			}
			if w := d.cfg.SlowStart.Window; w > 0 && !ep.ReadySince.IsZero() {
				if age := time.Duration(now - ep.ReadySince.UnixNano()); age < w {
					es.SlowStart = 0.1 + 0.9*float64(age)/float64(w)
				}
			}
			if b := d.state.breakers; b != nil {
				es.Breaker = b.State(ep.Addr).String()
			}
			if d.routes != nil {
				for _, sub := range d.routes.SubsetNames() {
					if s, ok := d.routes.Subset(sub); ok && s.Selects(ep.Version, r.labels[ep]) {
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
