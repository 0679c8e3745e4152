// Package peakewma is the latency- and load-aware [resilience.Builder], in
// the manner of Finagle's and Linkerd's peak EWMA balancers: its pickers
// draw two endpoints at random and send the request to the cheaper one,
// where
//
//	cost = latency × (requests in flight + 1) / weight
//
// and latency is the endpoint's peak-sensitive moving average of round-trip
// times ([resilience.Endpoint.Latency]), which the transport feeds after
// every attempt with [resilience.Endpoint.Observe]. A slow response raises
// the average at once and faster ones lower it gradually, so a slowing
// endpoint sheds traffic quickly and regains it carefully. Failed attempts
// count as at least [resilience.FailurePenalty], so an endpoint that fails
// fast repels traffic instead of attracting it.
//
// An endpoint never observed, or idle long enough for its average to decay
// to zero, costs nothing while it has no request in flight and more than
// any observed endpoint while it has one: each client probes it with one
// request at a time until it has a measurement.
//
// With [resilience.BuildOptions] SlowStart, weight ramps up after an
// endpoint's ReadySince. Endpoints marked down with
// [resilience.Endpoint.MarkDown] lose to available ones, and
// [resilience.PickInfo] Avoid loses to any other available endpoint. Local
// health marks never fail a request on their own: when no endpoint is
// usable, a picker still returns one.
package peakewma
