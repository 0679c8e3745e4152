// Package tap streams the requests passing through a node, both
// directions, HTTP and gRPC, to whoever watches: caller, route, subset,
// endpoint, attempts, status, latency, trace ID and why the call went
// where it went.
//
// A [Tap] is a [observe.CallObserver] and a [observe.InboundObserver]
// that costs one atomic load per request while nobody watches. Each
// [Subscription] is bounded: events past its rate, or that find its
// buffer full, are dropped and counted, never waited for. Header values
// are redacted unless their names are allow-listed.
package tap
