package tracectx

import (
	"context"
	"reflect"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/weftmesh/weft/transport/observe"
)

// Remote is room in a request's state for the trace context its caller
// sent. Once [Remote.Parent] succeeded it is a context (the request's,
// when the caller sampled the trace out, or the parent of the request's
// server span): OpenTelemetry finds in it the caller's span context as
// the current span (remote, not recording), as it would after the
// TraceContext propagator extracted it, and every other lookup goes to
// its parent. It is an [observe.TraceSlot]. The zero
// value is ready; a Remote must not be copied once used.
type Remote struct {
	parent context.Context
	span   remoteSpan
}

var _ observe.TraceSlot = (*Remote)(nil)

// remoteSpan is the caller's span as the request's context answers it:
// a span that records nothing, as OpenTelemetry's own non-recording span.
type remoteSpan struct {
	noop.Span
	sc trace.SpanContext
}

func (s *remoteSpan) SpanContext() trace.SpanContext { return s.sc }

// Parent returns r, now a child of ctx carrying the caller's trace
// context, when carrier holds a valid traceparent and neither a
// tracestate nor baggage (which would need to be parsed into values of
// their own). Otherwise it returns ctx and false, and the caller extracts
// the trace context as usual. It succeeds at most once.
func (r *Remote) Parent(ctx context.Context, carrier observe.Carrier) (context.Context, bool) {
	if spanKey == nil || r.parent != nil {
		return ctx, false
	}
	p, ok := ParseParent(carrier.Get(ParentHeader))
	if !ok || carrier.Get(StateHeader) != "" || carrier.Get(BaggageHeader) != "" {
		return ctx, false
	}
	r.parent, r.span.sc = ctx, p.SpanContext()
	return r, true
}

// Deadline implements [context.Context].
func (r *Remote) Deadline() (time.Time, bool) { return r.parent.Deadline() }

// Done implements [context.Context].
func (r *Remote) Done() <-chan struct{} { return r.parent.Done() }

// Err implements [context.Context].
func (r *Remote) Err() error { return r.parent.Err() }

// Value implements [context.Context]: OpenTelemetry's current span is the
// caller's.
func (r *Remote) Value(key any) any {
	if key == spanKey {
		return &r.span
	}
	return r.parent.Value(key)
}

func (r *Remote) String() string { return "tracectx.Remote" }

// spanKey is the key under which OpenTelemetry keeps a context's current
// span. The trace package does not export it, so it is learnt by watching
// trace.SpanFromContext look it up, and checked by seeing that a Remote
// answering it is found; nil when either fails (a later OpenTelemetry
// that finds spans otherwise), and then no Remote is ever used.
var spanKey = learnSpanKey()

// keyProbe is a context that remembers the key it was asked for.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

func learnSpanKey() any {
	probe := &keyProbe{Context: context.Background()}
	trace.SpanFromContext(probe)
	key := probe.key
	if key == nil || !reflect.TypeOf(key).Comparable() {
		return nil
	}
	want := Parent{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}}.SpanContext()
	if !trace.SpanContextFromContext(&answer{context.Background(), key, &remoteSpan{sc: want}}).Equal(want) {
		return nil
	}
	return key
}

// answer is a context that answers key with span.
type answer struct {
	context.Context
	key  any
	span trace.Span
}

func (a *answer) Value(key any) any {
	if key == a.key {
		return a.span
	}
	return a.Context.Value(key)
}
