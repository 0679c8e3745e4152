package engine

import (
	"maps"
	"slices"
	"time"

	"github.com/weftmesh/weft/transport/observe"
)

// Status returns the state of the destinations that include accepts (all
// of them when include is nil) as clients of protocol p see them, sorted
// by service, for the admin endpoint. It reads the current snapshots and
// the live counters, never the engine's lock.
func (e *Engine) Status(p Protocol, include func(service string) bool) []observe.DestinationStatus {
	table := *e.table.Load()
	names := slices.Sorted(maps.Keys(table))
	now := e.now().UnixNano()
	out := make([]observe.DestinationStatus, 0, len(names))
	for _, name := range names {
		if include != nil && !include(name) {
			continue
		}
		d := table[name]
		set := d.sets[p]
		st := d.st
		ds := observe.DestinationStatus{
			Protocol: p.String(), Service: name, LoadBalancer: d.cfg.LoadBalancer,
			Ready: len(set.endpoints), Unready: set.unready,
			RetryBudget:      st.budget.Available(),
			Breakers:         st.breakers != nil,
			OutlierDetection: st.outliers != nil,
			Endpoints:        make([]observe.EndpointStatus, 0, len(set.endpoints)),
		}
		for _, ep := range set.endpoints {
			ejected := ep.Ejected(now)
			es := observe.EndpointStatus{
				Addr: ep.Addr, Node: ep.Node, Zone: ep.Zone, Version: ep.Version,
				Labels: maps.Clone(ep.Labels), Weight: max(ep.Weight, 1),
				InFlight: ep.InFlight(), LatencyMs: ep.Latency(now) / 1e6,
				Down: !ep.Available(now) && !ejected, Ejected: ejected,
			}
			if w := d.cfg.SlowStart.Window; w > 0 && !ep.ReadySince.IsZero() {
				if age := time.Duration(now - ep.ReadySince.UnixNano()); age < w {
					es.SlowStart = 0.1 + 0.9*float64(age)/float64(w)
				}
			}
			if b := st.breakers; b != nil {
				es.Breaker = b.State(ep.Node).String()
			}
			if d.routes != nil {
				for _, sub := range d.routes.SubsetNames() {
					if s, ok := d.routes.Subset(sub); ok && s.Selects(ep.Version, ep.Labels) {
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
