// Package engine is the protocol-neutral core of a node's clients. HTTP
// clients (package transport) and gRPC channels (package transport/rpc)
// are thin adapters over one [Engine]: whatever the protocol, a call to a
// destination service follows the same routes, balancer, retry policy,
// retry budget, breakers and outlier detection, and a failing service gets
// one set of protection, not one per protocol.
//
// For every destination the engine keeps an immutable [Destination]:
//
//	routes       the service's compiled routes and subsets (transport/route)
//	balancer     the builder the policy names (resilience registry)
//	endpoints    the ready endpoints of each protocol, each a long-lived
//	             resilience.Endpoint whose counters survive catalog changes
//	state        the retry budget, breakers and outlier detector, kept
//	             while the service's configuration is unchanged; breakers
//	             and ejections judge instances, so an instance that fails
//	             over HTTP is out of picking for gRPC too
//
// A catalog view or a policy rebuilds the snapshots and swaps the table
// atomically; calls never take a lock.
//
// A call runs in three steps:
//
//	Destination.Begin   the route's timeout, subset split, idempotency,
//	                    the observer's call
//	Run                 the scheduler: an attempt, then retries with
//	                    jittered backoff within the budget, or hedges;
//	                    each attempt is sent by the adapter's Attempter
//	Try.Pick, Picked    the endpoint chosen (subset, avoid the last one
//	                    that failed, breakers) and its verdict: breaker,
//	                    outlier detection, down mark, latency estimate
//
// The HTTP adapter lets the scheduler pick before each attempt; the gRPC
// adapter picks inside its balancer, among the endpoints its channel is
// connected to. Both report attempts to the observer through [Try.Observe]
// and [Try.Finish], so tracing, metrics and the routing history see one
// shape of call.
package engine
