package transport

import (
	"maps"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/resilience"
)

// EndpointKey identifies a catalog endpoint: the node that publishes it
// and its address.
type EndpointKey struct{ Node, Addr string }

// EndpointCache keeps the resilience.Endpoint a client built for each
// catalog endpoint, so that rebuilding after a catalog change reuses the
// Endpoint of an unchanged instance and its counters survive. Both maps
// must be made by the owner, who guards them with its own lock; a cache
// is a view of them and may be copied.
type EndpointCache struct {
	Endpoints map[EndpointKey]*resilience.Endpoint
	Labels    map[*resilience.Endpoint]map[string]string // what each Endpoint was built from
}

// Ready returns the Endpoints of the ready instances serving protocol,
// marks their keys in live, and counts the instances that are not ready.
// A changed or new instance gets a new Endpoint; with slowStart it ramps
// up from now (set it for a service the client already calls: the
// endpoints found when it first learns of a service are not new, and take
// full weight).
func (c EndpointCache) Ready(instances []*discovery.Instance, protocol string, slowStart bool, live map[EndpointKey]bool) (eps []*resilience.Endpoint, unready int) {
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
		ep := c.Endpoints[k]
		if ep == nil || ep.Weight != in.Weight || ep.Zone != in.Zone || ep.Version != in.Version || !maps.Equal(c.Labels[ep], in.Labels) {
			if ep != nil {
				delete(c.Labels, ep)
			}
			ep = &resilience.Endpoint{Addr: e.Addr, Node: in.Node, Zone: in.Zone, Version: in.Version, Weight: in.Weight}
			if slowStart {
				ep.ReadySince = time.Now()
			}
			c.Endpoints[k] = ep
			c.Labels[ep] = in.Labels
		}
		live[k] = true
		eps = append(eps, ep)
	}
	return eps, unready
}

// Prune forgets the Endpoints whose keys are not in live.
func (c EndpointCache) Prune(live map[EndpointKey]bool) {
	for k, ep := range c.Endpoints {
		if !live[k] {
			delete(c.Endpoints, k)
			delete(c.Labels, ep)
		}
	}
}
