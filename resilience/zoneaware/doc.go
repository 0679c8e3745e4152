// Package zoneaware wraps any [resilience.Builder] so that its pickers
// prefer endpoints in the caller's own zone ([resilience.Endpoint] Zone),
// which keeps latency low and avoids cross-zone transfer costs.
//
// Traffic stays in the local zone while at least a fraction minHealthy of
// the zone's endpoints are usable (not marked down and not the request's
// [resilience.PickInfo] Avoid); below that, the zone is presumed to be in
// trouble and its survivors too few to carry its whole share, so traffic
// spreads over every zone, as in Envoy's panic threshold. Within the chosen
// set, the wrapped balancer picks as usual.
package zoneaware
