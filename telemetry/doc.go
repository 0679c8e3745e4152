// Package telemetry makes what the mesh does visible: OpenTelemetry traces
// with a span for every inbound request, every outbound call and each of
// its attempts; golden-signal metrics in the Prometheus text format and,
// when configured, pushed over OTLP; and opt-in structured access logs.
//
// A [Telemetry] is built from the policy's `telemetry` section ([Config])
// and the standard OTEL_* environment variables, or from the
// TracerProvider, MeterProvider and propagator the application hands
// over. It never reads or sets OpenTelemetry's global providers.
//
// It watches traffic through the observer interfaces of package
// transport/observe: it is an [observe.CallObserver] for the client side
// and an [observe.InboundObserver] for the server side. With tracing off it
// creates no spans and injects nothing, so a request costs a few metric
// updates; with tracing on, each attempt carries its own W3C trace context
// (and baggage) so that retries and hedges appear as separate children of
// the call's span.
//
// Metric labels are bounded: services, routes, response classes and a few
// enumerations, never addresses or paths.
package telemetry
