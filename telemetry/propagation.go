package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/transport/observe"
)

// w3cPropagation is the propagation Telemetry sets up itself, when the
// application gives no propagator: W3C trace context, baggage, or both.
// Knowing it, Telemetry writes and reads trace context without the
// propagator's allocations where it can (see inject and StartInbound).
type w3cPropagation struct {
	traceContext, baggage bool
}

// propagator returns the OpenTelemetry propagator p stands for.
func (p w3cPropagation) propagator() propagation.TextMapPropagator {
	var list []propagation.TextMapPropagator
	if p.traceContext {
		list = append(list, propagation.TraceContext{})
	}
	if p.baggage {
		list = append(list, propagation.Baggage{})
	}
	return propagation.NewCompositeTextMapPropagator(list...)
}

// inject writes the trace context of an attempt whose span context is sc
// into c, as t's propagator would. With W3C trace context of its own, t
// writes the traceparent into the carrier's memory ([tracectx.Writer]).
// A remote sc that is not sampled is a caller's whose trace this node
// does not record, the call having made no span (StartCall): the attempt
// is sent as a new child of the caller's span, as the SDK's
// non-recording span would be.
func (t *Telemetry) inject(ctx context.Context, sc trace.SpanContext, c observe.Carrier) {
	if !t.fastTrace {
		t.prop.Inject(ctx, c)
		return
	}
	if sc.IsValid() {
		if ts := sc.TraceState(); ts.Len() > 0 {
			c.Set(tracectx.StateHeader, ts.String())
		}
		p := tracectx.Of(sc)
		if sc.IsRemote() && !sc.IsSampled() {
			p.SpanID = tracectx.NewSpanID()
		}
		tracectx.SetParent(c, p)
	}
	if t.w3c.baggage {
		propagation.Baggage{}.Inject(ctx, c)
	}
}

// sampledOut reports whether sc is a caller's whose trace is not sampled:
// this node then records nothing of it, whatever its sampler.
func sampledOut(sc trace.SpanContext) bool {
	return sc.IsRemote() && sc.IsValid() && !sc.IsSampled()
}
