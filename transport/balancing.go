package transport

import (
	"fmt"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/zoneaware"
)

// BalancerBuilder returns the picker builder that cfg's loadBalancer,
// slowStart and zoneAware keys describe, for a caller in zone. HTTP
// clients balance with it, and so do clients of other protocols (gRPC
// channels), so that a policy's loadBalancer means the same thing for
// every protocol. An empty loadBalancer is least_request; an unknown one
// is an error (the policy rejects it before it gets here).
func BalancerBuilder(cfg DestinationConfig, zone string) (resilience.Builder, error) {
	name := cfg.LoadBalancer
	if name == "" {
		name = leastrequest.Name
	}
	newBuilder, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("transport: unknown load balancer %q", name)
	}
	b := newBuilder(resilience.BuildOptions{SlowStart: cfg.SlowStart.Window})
	if cfg.ZoneAware.Enabled {
		b = zoneaware.New(b, zone, cfg.ZoneAware.MinHealthy)
	}
	return b, nil
}
