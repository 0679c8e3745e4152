package telemetry_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport/observe"
)

// w3c is the propagator a node sets up by itself.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// tracingWith returns a Telemetry whose spans a provider with sampler
// makes, with the propagation it sets up itself.
func tracingWith(t *testing.T, sampler sdktrace.Sampler) *telemetry.Telemetry {
	t.Setenv("OTEL_PROPAGATORS", "")
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tel, err := telemetry.New(context.Background(), telemetry.Config{}, telemetry.Options{Service: "b", TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel
}

// TestAttemptTraceContext checks that what an attempt sends with the
// propagation a node sets up itself is what the propagator would write
// from the attempt's context, and that under a caller that sampled the
// trace out, the call starts no span and its attempt is a new child of
// the caller's span.
func TestAttemptTraceContext(t *testing.T) {
	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	parent := func(flags trace.TraceFlags, remote bool) context.Context {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{9}, TraceFlags: flags, TraceState: ts, Remote: remote})
		return trace.ContextWithSpanContext(context.Background(), sc)
	}
	bag, err := baggage.New(mustMember(t, "tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		sampler  sdktrace.Sampler
		ctx      context.Context
		callSpan bool // the call starts a span of its own
		fresh    bool // the attempt sends a new span ID rather than its context's
	}{
		{"root, sampled", sdktrace.ParentBased(sdktrace.AlwaysSample()), context.Background(), true, false},
		{"root, sampled out", sdktrace.ParentBased(sdktrace.NeverSample()), context.Background(), true, false},
		{"local parent, sampled, tracestate", sdktrace.ParentBased(sdktrace.NeverSample()), parent(trace.FlagsSampled, false), true, false},
		{"caller sampled, tracestate", sdktrace.ParentBased(sdktrace.NeverSample()), parent(trace.FlagsSampled|trace.FlagsRandom, true), true, false},
		{"caller sampled out, tracestate", sdktrace.AlwaysSample(), parent(trace.FlagsRandom, true), false, true},
		{"caller sampled out, baggage", sdktrace.AlwaysSample(), baggage.ContextWithBaggage(parent(0, true), bag), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel := tracingWith(t, tc.sampler)
			c := &observe.CallInfo{Protocol: observe.ProtocolHTTP, Source: "a", Destination: "b", Method: "GET", Start: time.Now()}
			ctx := tel.StartCall(tc.ctx, c)
			if started := ctx != tc.ctx; started != tc.callSpan {
				t.Errorf("call span started: %v, want %v", started, tc.callSpan)
			}
			got := http.Header{}
			a := &observe.AttemptInfo{N: 1, Start: time.Now(), Carrier: observe.HeaderCarrier(got)}
			actx := tel.StartAttempt(ctx, c, a)
			want := http.Header{}
			w3c.Inject(actx, propagation.HeaderCarrier(want))
			if tc.fresh {
				gp, _ := tracectx.ParseParent(got.Get("Traceparent"))
				wp, _ := tracectx.ParseParent(want.Get("Traceparent"))
				if gp.TraceID != wp.TraceID || gp.Flags != wp.Flags || !gp.SpanID.IsValid() || gp.SpanID == wp.SpanID {
					t.Errorf("traceparent %q: want trace and flags of %q, a span ID of its own", got.Get("Traceparent"), want.Get("Traceparent"))
				}
				got.Del("Traceparent")
				want.Del("Traceparent")
			}
			if len(want) == 0 || !equalHeaders(got, want) {
				t.Errorf("attempt sent %v, the propagator writes %v", got, want)
			}
			a.Status, a.Outcome, a.End = 200, "ok", time.Now()
			tel.EndAttempt(actx, c, a)
			c.Attempts, c.Status, c.End = 1, 200, time.Now()
			tel.EndCall(ctx, c)
		})
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if len(b[k]) != 1 || len(v) != 1 || b[k][0] != v[0] {
			return false
		}
	}
	return true
}

// TestInboundTraceContext checks that a server with the propagation it
// sets up itself keeps the trace context of a caller that sampled the
// trace out in the request's state, as the propagator would extract it,
// and extracts anything else as usual.
func TestInboundTraceContext(t *testing.T) {
	tel := tracingWith(t, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	const out = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name   string
		header http.Header
		slot   bool // the request's state holds the trace context
		span   bool // a server span is started
	}{
		{"sampled out", http.Header{"Traceparent": {out}}, true, false},
		{"sampled out, tracestate", http.Header{"Traceparent": {out}, "Tracestate": {"vendor=x"}}, false, false},
		{"sampled out, baggage", http.Header{"Traceparent": {out}, "Baggage": {"tenant=acme"}}, false, false},
		{"sampled", http.Header{"Traceparent": {in}}, false, true},
		{"none", http.Header{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var slot tracectx.Remote
			info := &observe.InboundInfo{Protocol: observe.ProtocolHTTP, Method: "GET", Start: time.Now(), Carrier: observe.HeaderCarrier(tc.header), Trace: &slot}
			ctx := tel.StartInbound(context.Background(), info)
			if inSlot := ctx == context.Context(&slot); inSlot != tc.slot {
				t.Errorf("trace context in the request's state: %v, want %v", inSlot, tc.slot)
			}
			span := trace.SpanFromContext(ctx)
			if span.IsRecording() != tc.span {
				t.Errorf("server span recording: %v, want %v", span.IsRecording(), tc.span)
			}
			want := w3c.Extract(context.Background(), propagation.HeaderCarrier(tc.header))
			wsc := trace.SpanContextFromContext(want)
			switch sc := span.SpanContext(); {
			case !tc.span && !sc.Equal(wsc):
				t.Errorf("span context %v, the propagator extracts %v", sc, wsc)
			case tc.span && !span.(sdktrace.ReadOnlySpan).Parent().Equal(wsc):
				t.Errorf("server span's parent %v, the propagator extracts %v", span.(sdktrace.ReadOnlySpan).Parent(), wsc)
			}
			if got, want := baggage.FromContext(ctx).String(), baggage.FromContext(want).String(); got != want {
				t.Errorf("baggage %q, want %q", got, want)
			}
			info.Status, info.End = 200, time.Now()
			tel.EndInbound(ctx, info)
		})
	}
}
