// Package random is the weighted random [resilience.Builder]: its pickers
// send each request to an endpoint drawn at random, with probability
// proportional to [resilience.Endpoint.Weight].
//
// Random balancing keeps no shared state between picks, so it scales
// perfectly across goroutines and never synchronises many clients onto the
// same endpoint; in exchange, short runs are less even than round robin's.
//
// With [resilience.BuildOptions] SlowStart, an endpoint's weight ramps up
// after its ReadySince. Endpoints marked down with
// [resilience.Endpoint.MarkDown] and [resilience.PickInfo] Avoid are
// skipped; local health marks never fail a request on their own: when no
// endpoint is usable, a picker still returns one.
package random
