// Package tracectx carries W3C trace context (https://www.w3.org/TR/trace-context/)
// through the state a node keeps per request anyway, so that a trace
// nobody records costs a request no allocation of Weft's own.
//
// Two places need it. A server whose caller sampled the trace out records
// nothing, but the request's context must still carry the caller's trace
// context: for the calls its handler makes, which pass it on, and for
// OpenTelemetry-instrumented code in the handler, which starts its spans
// under it. [Remote] is that context, kept in the request's state: it
// answers OpenTelemetry's lookup of the current span with a span held
// within itself, where the propagator would make a context and a span.
// And an attempt's traceparent is written into the carrier's own memory
// ([Text], [Writer]), where the propagator would build a string.
//
// Telemetry decides when to use either (tracing on, W3C propagation of
// its own); the transports only keep the room: HTTP's and gRPC's request
// state holds a Remote, their attempt carriers a Text.
package tracectx
