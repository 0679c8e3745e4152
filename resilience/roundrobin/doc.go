// Package roundrobin is the round-robin [resilience.Builder]: its pickers
// hand out the endpoints of a set in turn, so that over any run of picks
// every usable endpoint receives the same number of requests.
//
// Each picker starts its rotation at a random endpoint, so that many clients
// built at the same moment from the same catalog do not all send their first
// request to the same instance. Endpoints marked down with
// [resilience.Endpoint.MarkDown] are skipped, and so is [resilience.PickInfo]
// Avoid; the skipped turns are consumed, so the remaining endpoints keep an
// even share instead of the next one in line taking the skipped one's share.
// Local health marks never fail a request on their own: when no endpoint is
// usable, a picker still returns one.
//
// When weights ([resilience.Endpoint.Weight]) differ, the rotation is
// smooth weighted round robin: over each cycle every endpoint gets exactly
// its weight in turns, interleaved (weights 3 and 1 rotate A A B A). When
// all weights are equal it is the plain rotation above. With
// [resilience.BuildOptions] SlowStart, endpoints ramping up after their
// ReadySince get a growing share of turns.
//
// Round robin ignores the number of requests in flight; use package
// leastrequest or peakewma when endpoints differ in latency.
package roundrobin
