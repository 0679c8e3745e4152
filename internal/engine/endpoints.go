package engine

import (
	"maps"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
)

// EndpointKey identifies a catalog endpoint: the node that publishes it
// and its address.
type EndpointKey struct{ Node, Addr string }

// EndpointCache keeps the resilience.Endpoint built for each catalog
// endpoint of one protocol, so that rebuilding after a catalog change
// reuses the Endpoint of an unchanged instance and its counters (in
// flight, latency, down and ejection marks) survive. The engine guards it
// with its own lock.
type EndpointCache map[EndpointKey]*resilience.Endpoint

func newEndpointCache() EndpointCache { return make(EndpointCache) }

// Ready returns the Endpoints of the ready instances serving protocol,
// marks their keys in live, and counts the instances that are not ready.
// A changed or new instance gets a new Endpoint; with slowStart it ramps
// up from now() (set it for a service the client already calls: the
// endpoints found when it first learns of a service are not new, and take
// full weight).
func (c EndpointCache) Ready(instances []*discovery.Instance, protocol string, slowStart bool, live map[EndpointKey]bool, now func() time.Time) (eps []*resilience.Endpoint, unready int) {
	for _, in := range instances {
		e, ok := in.EndpointFor(protocol)
		if !ok {
			continue
		}
		if in.State != discovery.StateReady {
			unready++
			continue
		}
		k := EndpointKey{in.Node, e.Addr}
		ep := c[k]
		if ep == nil || ep.Weight != in.Weight || ep.Zone != in.Zone || ep.Version != in.Version || !maps.Equal(ep.Labels, in.Labels) {
			ep = &resilience.Endpoint{Addr: e.Addr, Node: in.Node, Zone: in.Zone, Version: in.Version, Labels: in.Labels, Weight: in.Weight}
			if slowStart {
				ep.ReadySince = now()
			}
			c[k] = ep
		}
		live[k] = true
		eps = append(eps, ep)
	}
	return eps, unready
}

// Prune forgets the Endpoints whose keys are not in live.
func (c EndpointCache) Prune(live map[EndpointKey]bool) {
	for k := range c {
		if !live[k] {
			delete(c, k)
		}
	}
}
