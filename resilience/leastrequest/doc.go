// Package leastrequest is the least-request [resilience.Builder]: its
// pickers send each request to the less loaded of two endpoints drawn at
// random ("power of two choices").
//
// Load is the number of requests in flight ([resilience.Endpoint.InFlight])
// divided by [resilience.Endpoint.Weight], scaled down while the endpoint
// ramps up under [resilience.BuildOptions] SlowStart. Comparing two random
// endpoints instead of scanning for the global minimum keeps a pick
// constant-time and stops every client from piling onto the same
// momentarily idle endpoint, while still steering traffic away from slow or
// overloaded instances far better than round robin.
//
// Endpoints marked down with [resilience.Endpoint.MarkDown] lose to
// available ones, and [resilience.PickInfo] Avoid loses to any other
// available endpoint. Local health marks never fail a request on their own:
// when no endpoint is usable, a picker still returns one.
package leastrequest
