package telemetry

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport/observe"
)

var (
	_ observe.CallObserver    = (*Telemetry)(nil)
	_ observe.InboundObserver = (*Telemetry)(nil)
)

// Span names before the span is known to record: a span that is not
// sampled gets no name of its own, so that it costs no string building.
const (
	unnamedCall    = "weft.call"
	unnamedAttempt = "weft.attempt"
	unnamedServer  = "weft.server"
)

// The options spans start with, made once: passed on their own, they
// would allocate their slice on every call.
var (
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
)

// StartCall implements [observe.CallObserver]: it counts the call in
// flight and, with tracing on, starts the call's client span, named
// "METHOD destination". Its attributes are set when it ends, all at once.
// Under a caller that sampled the trace out, whatever the sampler, it
// starts no span: the call's attempts carry the caller's trace on as new
// children of the caller's span, sampled out too (written by StartAttempt
// with the propagation Telemetry set up itself, or made here as a context
// for the application's propagator).
func (t *Telemetry) StartCall(ctx context.Context, c *observe.CallInfo) context.Context {
	if t.metrics {
		t.inst.clientActive.Add(ctx, 1, t.activeAttr.get(attrKey{c.Source, c.Destination, c.Route, c.Protocol}).add...)
	}
	if !t.tracing {
		return ctx
	}
	if sc := trace.SpanContextFromContext(ctx); sampledOut(sc) {
		if t.fastTrace {
			return ctx
		}
		return trace.ContextWithSpanContext(ctx, sc.WithSpanID(tracectx.NewSpanID()).WithRemote(false))
	}
	ctx, span := t.tracer.Start(ctx, unnamedCall, clientSpan...)
	if span.IsRecording() {
		span.SetName(t.names.get(c.Method, c.Destination, ""))
		c.TraceID = observe.TraceID(span.SpanContext().TraceID())
	}
	return ctx
}

// StartAttempt implements [observe.CallObserver]: with tracing on, it
// writes the trace context of the attempt's span into the attempt's
// headers, so that the server's span is its child. A call's first attempt
// has no span of its own: the call's span, a client span, stands for it
// and goes out in its headers, so that a call answered at the first try
// costs one client span. Each further attempt, a retry or a hedge, starts
// a client span of its own, a child of the call's. An attempt of a call
// whose trace is not sampled starts no span (a child of a span sampled out
// is sampled out too) and carries the call's trace context.
func (t *Telemetry) StartAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) context.Context {
	if !t.tracing {
		return ctx
	}
	span := trace.SpanFromContext(ctx)
	if a.N > 1 && span.IsRecording() {
		ctx, span = t.tracer.Start(ctx, unnamedAttempt, clientSpan...)
		if span.IsRecording() {
			span.SetName(t.names.get(c.Method, c.Destination, " attempt"))
		}
	}
	t.inject(ctx, span.SpanContext(), a.Carrier)
	return ctx
}

// EndAttempt implements [observe.CallObserver]: it counts breaker
// transitions and ejections the attempt caused and ends its span. The
// first attempt's span is the call's, which EndCall ends: when that
// attempt does not answer the call (a failure a retry may follow, or a
// hedge that won), what became of it is an event on the call's span.
func (t *Telemetry) EndAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) {
	if t.metrics {
		t.countAttempt(ctx, c, a)
	}
	if !t.tracing {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		// Not sampled: either the attempt's own span, or no span at all
		// and ctx holds the call's, which EndCall ends.
		return
	}
	t.endAttemptSpan(span, c, a)
}

// countAttempt counts the breaker transitions and ejections an attempt
// caused.
func (t *Telemetry) countAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) {
	if a.BreakerOpened {
		t.inst.breakerTransition.Add(ctx, 1, t.transAttr.get(attrKey{c.Destination, "open"}).add...)
	}
	if a.BreakerClosed {
		t.inst.breakerTransition.Add(ctx, 1, t.transAttr.get(attrKey{c.Destination, "closed"}).add...)
	}
	if a.Ejected {
		t.inst.ejections.Add(ctx, 1, t.destAttr.get(attrKey{c.Destination}).add...)
	}
}

// endAttemptSpan records an attempt on its span, which it ends, or, for
// a call's first attempt, on the call's span.
func (t *Telemetry) endAttemptSpan(span trace.Span, c *observe.CallInfo, a *observe.AttemptInfo) {
	if a.BreakerOpened {
		span.AddEvent("circuit breaker opened")
	}
	if a.Ejected {
		span.AddEvent("endpoint ejected")
	}
	if a.N == 1 {
		if a.Err != nil || a.Outcome != "ok" {
			span.AddEvent(firstAttemptEvent, trace.WithAttributes(attemptAttrs(c, a, nil)...))
		}
		return
	}
	attrs := getAttrs()
	kv := attemptAttrs(c, a, attrs.kv)
	span.SetAttributes(kv...)
	attrs.put(kv)
	switch {
	case a.Err != nil:
		span.SetStatus(codes.Error, a.Err.Error())
	case a.Outcome != "ok":
		span.SetStatus(codes.Error, a.Outcome)
	}
	span.End()
}

// firstAttemptEvent names the event on a call's span that tells what
// became of its first attempt when another answered the call, or none did.
const firstAttemptEvent = "weft.attempt"

// attemptAttrs appends to kv what an attempt's span (or the event of a
// first attempt) records of it.
func attemptAttrs(c *observe.CallInfo, a *observe.AttemptInfo, kv []attribute.KeyValue) []attribute.KeyValue {
	kv = append(kv,
		attribute.Int("weft.attempt", a.N),
		attribute.String("weft.endpoint", a.Endpoint),
		attribute.String("weft.node", a.Node),
		attribute.String("weft.outcome", a.Outcome),
	)
	if a.Hedge {
		kv = append(kv, attribute.Bool("weft.hedge", true))
	}
	kv = appendSet(kv, "weft.subset", c.Subset)
	if a.N > 1 {
		kv = append(kv, attribute.Int("http.request.resend_count", a.N-1))
	}
	if a.Status != 0 {
		kv = append(kv, attribute.Int("http.response.status_code", a.Status))
	}
	if a.Err != nil && a.N == 1 {
		// An attempt's own span has it as its status.
		kv = append(kv, attribute.String("error.message", a.Err.Error()))
	}
	return kv
}

// EndCall implements [observe.CallObserver]: it records the call's
// golden signals, ends its span and writes its access log line.
func (t *Telemetry) EndCall(ctx context.Context, c *observe.CallInfo) {
	if t.metrics {
		t.countCall(ctx, c)
	}
	if t.tracing {
		t.endCallSpan(trace.SpanFromContext(ctx), c)
	}
	if t.accessLog.Load() {
		t.logCall(ctx, c)
	}
}

// countCall records a call's golden signals.
func (t *Telemetry) countCall(ctx context.Context, c *observe.CallInfo) {
	s := t.clientAttr.get(attrKey{c.Source, c.Destination, c.Route, responseClass(c.Protocol, c.Status), c.Protocol})
	t.inst.clientRequests.Add(ctx, 1, s.add...)
	t.inst.clientDuration.Record(ctx, c.End.Sub(c.Start).Seconds(), s.rec...)
	t.inst.clientActive.Add(ctx, -1, t.activeAttr.get(attrKey{c.Source, c.Destination, c.Route, c.Protocol}).add...)
	if retries := c.Attempts - 1 - c.Hedges; retries > 0 {
		t.inst.retries.Add(ctx, int64(retries), t.routeSet.get(attrKey{c.Destination, c.Route}).add...)
	}
	if c.Hedges > 0 {
		t.inst.hedges.Add(ctx, int64(c.Hedges), t.routeSet.get(attrKey{c.Destination, c.Route}).add...)
	}
	if c.BudgetExhausted {
		t.inst.budgetExhausted.Add(ctx, 1, t.destAttr.get(attrKey{c.Destination}).add...)
	}
}

// endCallSpan records a call on its span, which it ends: the call's own,
// or, when the call started none, the caller's, which it leaves.
func (t *Telemetry) endCallSpan(span trace.Span, c *observe.CallInfo) {
	if !span.SpanContext().IsRemote() { // a caller's, when the call started none
		defer span.End()
	}
	if !span.IsRecording() {
		return
	}
	// A call answered at the first try has at most 8 attributes: the SDK
	// de-duplicates a span's attributes when it ends in a map that grows,
	// and allocates three more times, beyond 8. What is unset is left out:
	// no path (gRPC), no route matched, no subset chosen, no hedge sent.
	// server.address is the destination service.
	attrs := getAttrs()
	kv := append(attrs.kv,
		attribute.String("http.request.method", c.Method),
		attribute.String("server.address", c.Destination),
		attribute.String("weft.protocol", c.Protocol),
		attribute.String("weft.source", c.Source),
		attribute.Int("weft.attempts", c.Attempts),
	)
	kv = appendSet(kv, "url.path", c.Path)
	kv = appendSet(kv, "weft.route", c.Route)
	kv = appendSet(kv, "weft.subset", c.Subset)
	kv = appendSet(kv, "weft.endpoint", c.Endpoint)
	if c.Hedges > 0 {
		kv = append(kv, attribute.Int("weft.hedges", c.Hedges))
	}
	if c.Status != 0 {
		kv = append(kv, attribute.Int("http.response.status_code", c.Status))
	}
	if c.BudgetExhausted {
		kv = append(kv, attribute.Bool("weft.retry_budget.exhausted", true))
	}
	span.SetAttributes(kv...)
	attrs.put(kv)
	switch {
	case c.Err != nil:
		span.SetStatus(codes.Error, c.Err.Error())
	case c.Protocol == observe.ProtocolHTTP && c.Status >= 400,
		c.Protocol == observe.ProtocolGRPC && c.Status != 0:
		span.SetStatus(codes.Error, http.StatusText(c.Status))
	}
}

// StartInbound implements [observe.InboundObserver]: with tracing on,
// it continues the caller's trace from the request's headers with a
// server span, named "METHOD service". When the caller's trace is not
// sampled, it starts no span: the request's context carries the caller's
// trace context on, so that the calls the handler makes stay in the
// trace, sampled out too. With the propagation Telemetry set up itself,
// the caller's trace context is kept in the request's own state where it
// can be (see [observe.TraceSlot]) rather than extracted into a context
// of its own.
func (t *Telemetry) StartInbound(ctx context.Context, in *observe.InboundInfo) context.Context {
	if !t.tracing {
		return ctx
	}
	kept := false
	if t.fastTrace && in.Trace != nil {
		ctx, kept = in.Trace.Parent(ctx, in.Carrier)
	}
	if !kept {
		ctx = t.prop.Extract(ctx, in.Carrier)
	}
	if sampledOut(trace.SpanContextFromContext(ctx)) {
		return ctx
	}
	ctx, span := t.tracer.Start(ctx, unnamedServer, serverSpan...)
	if span.IsRecording() {
		span.SetName(t.names.get(in.Method, t.service, ""))
	}
	return ctx
}

// EndInbound implements [observe.InboundObserver]: it records the
// request's golden signals, ends its span and writes its access log line.
func (t *Telemetry) EndInbound(ctx context.Context, in *observe.InboundInfo) {
	if t.metrics {
		source := in.Source
		if source == "" {
			source = "unknown"
		}
		s := t.serverAttr.get(attrKey{source, t.service, responseClass(in.Protocol, in.Status), in.Protocol})
		t.inst.serverRequests.Add(ctx, 1, s.add...)
		t.inst.serverDuration.Record(ctx, in.End.Sub(in.Start).Seconds(), s.rec...)
	}
	if t.tracing {
		span := trace.SpanFromContext(ctx)
		if span.IsRecording() {
			attrs := getAttrs()
			kv := append(attrs.kv,
				attribute.String("http.request.method", in.Method),
				attribute.String("weft.protocol", in.Protocol),
				attribute.String("weft.service", t.service),
				attribute.Int("http.response.status_code", in.Status),
				attribute.String("weft.source", in.Source),
			)
			kv = appendSet(kv, "url.path", in.Path)
			kv = appendSet(kv, "weft.peer.id", in.Peer)
			span.SetAttributes(kv...)
			attrs.put(kv)
			if in.Protocol == observe.ProtocolHTTP && in.Status >= 500 || in.Protocol == observe.ProtocolGRPC && in.Status != 0 {
				span.SetStatus(codes.Error, http.StatusText(in.Status))
			}
			span.End()
		}
	}
	if t.accessLog.Load() {
		t.logInbound(ctx, in)
	}
}

// appendSet appends key = v to kv unless v is "": what is unset is left
// out of a span.
func appendSet(kv []attribute.KeyValue, key attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return kv
	}
	return append(kv, key.String(v))
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peerID returns the SPIFFE ID a TLS peer proved, or "".
func peerID(cs *tls.ConnectionState) string {
	if id, ok := security.PeerID(cs); ok {
		return id.String()
	}
	return ""
}

// traceID returns the trace ID of ctx's span, or "" without one.
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// The access log's message: one line per request, inbound and outbound.
const accessMessage = "weft: access"

func (t *Telemetry) logCall(ctx context.Context, c *observe.CallInfo) {
	if !t.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("direction", "outbound"),
		slog.String("protocol", c.Protocol),
		slog.String("trace_id", traceID(ctx)),
		slog.String("source", c.Source),
		slog.String("destination", c.Destination),
		slog.String("peer", peerID(c.TLS)),
		slog.String("method", c.Method),
		slog.String("path", c.Path),
		slog.String("route", c.Route),
		slog.String("subset", c.Subset),
		slog.String("endpoint", c.Endpoint),
		slog.Int("status", c.Status),
		slog.Int("attempts", c.Attempts),
		slog.Float64("duration_ms", millis(c.End.Sub(c.Start))),
	}
	if c.Err != nil {
		attrs = append(attrs, slog.String("error", c.Err.Error()))
	}
	t.logger.LogAttrs(ctx, slog.LevelInfo, accessMessage, attrs...)
}

func (t *Telemetry) logInbound(ctx context.Context, in *observe.InboundInfo) {
	if !t.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("direction", "inbound"),
		slog.String("protocol", in.Protocol),
		slog.String("trace_id", traceID(ctx)),
		slog.String("source", in.Source),
		slog.String("destination", t.service),
		slog.String("peer", in.Peer),
		slog.String("method", in.Method),
		slog.String("path", in.Path),
		slog.Int("status", in.Status),
		slog.Float64("duration_ms", millis(in.End.Sub(in.Start))),
	}
	if len(in.Claims) > 0 {
		// Only the claims the policy names (jwt.logClaims) are here.
		attrs = append(attrs, slog.Attr{Key: "claims", Value: slog.GroupValue(in.Claims...)})
	}
	t.logger.LogAttrs(ctx, slog.LevelInfo, accessMessage, attrs...)
}
