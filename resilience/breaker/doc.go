// Package breaker keeps one circuit breaker per endpoint of a destination
// service, so that a client stops sending requests to an endpoint that keeps
// failing and tries it again later.
//
// A [Set] holds the breakers of one destination, keyed by endpoint (its
// address, normally). Each breaker is a sony/gobreaker two-step breaker,
// created on first use and dropped by [Set.Retain] or [Set.Remove] when the
// endpoint leaves the catalog. A breaker is closed while the endpoint
// serves; it opens after [Config] ConsecutiveFailures failures in a row, or
// when the share of failures in the rolling Window exceeds FailureRatio;
// after OpenFor it turns half-open and lets HalfOpenRequests trial requests
// through, closing when they all succeed and opening again when one fails.
//
// The transport uses a Set in two places. Picking skips open endpoints
// without calling into any breaker: [Set.Attach] links a breaker to a
// [Marker] such as *resilience.Endpoint, which the breaker marks ejected
// whenever it opens, and [Set.Open] answers the same question from a few
// atomic loads. Sending brackets each request with [Set.Allow] and the done
// function it returns. An open endpoint is taken out of picking, not turned
// into an error, while other endpoints remain; when every endpoint is open,
// [Set.CheckAll] returns an error matching [ErrAllOpen], and the call fails
// fast.
//
// The open period follows the clock given to [New], so tests control it.
// gobreaker reads the wall clock itself and has no clock option: it still
// counts requests, decides when to trip and runs the half-open trials, but
// its own open timeout is set to the shortest possible value and the Set
// holds requests back until OpenFor has passed on the injected clock. The
// rolling failure window is kept by gobreaker and so always follows the wall
// clock.
package breaker
