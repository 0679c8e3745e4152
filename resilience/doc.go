// Package resilience holds the client-side mechanisms that decide where a
// request goes and how failures are absorbed: load-balancing pickers now,
// retries, budgets and circuit breakers as they land.
//
// The shapes follow grpc-go's balancer package. A [Builder] is a stateless
// factory; it turns an immutable endpoint set into a [Picker], the one-method
// hot-path object that chooses an endpoint for each request. Pickers are
// rebuilt, never mutated, when the endpoint set changes; the per-endpoint
// counters they read (requests in flight, health) live on the long-lived
// [Endpoint] values and so survive rebuilds.
//
// Implementations live in subpackages (roundrobin, leastrequest, peakewma,
// ringhash, random, and the zoneaware wrapper) so that each can be read on
// its own; they share [BuildOptions], and [BalancerConfig] is their policy. This package imports nothing of the mesh's:
// transport feeds it endpoints built from the discovery catalog.
package resilience
