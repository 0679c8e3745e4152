package tracectx

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// extracted returns the span context OpenTelemetry's propagator extracts
// from a traceparent (and tracestate), invalid when it finds none.
func extracted(traceparent, tracestate string) trace.SpanContext {
	c := propagation.MapCarrier{ParentHeader: traceparent}
	if tracestate != "" {
		c[StateHeader] = tracestate
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), c))
}

// injected returns the traceparent OpenTelemetry's propagator writes for sc.
func injected(sc trace.SpanContext) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)
	return c[ParentHeader]
}

const sample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

func TestParseParentAgreesWithThePropagator(t *testing.T) {
	for _, h := range []string{
		sample,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-04", // reserved bit in version 00
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-ever",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09x",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		"0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"",
		"garbage",
	} {
		checkParse(t, h)
	}
}

func checkParse(t *testing.T, h string) {
	t.Helper()
	want := extracted(h, "")
	p, ok := ParseParent(h)
	if ok != want.IsValid() {
		t.Fatalf("ParseParent(%q) ok = %v, the propagator finds valid = %v", h, ok, want.IsValid())
	}
	if !ok {
		return
	}
	if got := p.SpanContext(); !got.Equal(want) {
		t.Fatalf("ParseParent(%q) = %v, the propagator finds %v", h, got, want)
	}
	// What a node sends on is what the propagator would write.
	if got, want := p.String(), injected(want); got != want {
		t.Fatalf("Parent(%q).String() = %q, the propagator writes %q", h, got, want)
	}
}

func FuzzParseParent(f *testing.F) {
	f.Add(sample)
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-01")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736--00f067aa0ba902b7-01")
	f.Fuzz(checkParse)
}

func TestTextFormatsInPlaceOnce(t *testing.T) {
	p, _ := ParseParent(sample)
	texts := make([]Text, 101)
	i := 0
	if n := testing.AllocsPerRun(100, func() { texts[i].Format(p); i++ }); n != 0 {
		t.Errorf("the first Format allocated %v times, want 0", n)
	}
	var text Text
	first := text.Format(p)
	if first != sample {
		t.Fatalf("Format = %q, want %q", first, sample)
	}
	q := p
	q.SpanID = NewSpanID()
	second := text.Format(q)
	if first != sample || second != q.String() {
		t.Errorf("after a second Format: first %q (want %q), second %q (want %q)", first, sample, second, q.String())
	}
}

func TestNewSpanIDIsValidAndVaries(t *testing.T) {
	seen := map[trace.SpanID]bool{}
	for range 1000 {
		id := NewSpanID()
		if !id.IsValid() || seen[id] {
			t.Fatalf("span ID %v: valid %v, seen before %v", id, id.IsValid(), seen[id])
		}
		seen[id] = true
	}
}

type carrier map[string]string

func (c carrier) Get(key string) string { return c[key] }
func (c carrier) Set(key, value string) { c[key] = value }
func (c carrier) Keys() []string        { return nil }

type writer struct {
	carrier
	text Text
}

func (w *writer) SetParent(p Parent) { w.Set(ParentHeader, w.text.Format(p)) }

func TestSetParent(t *testing.T) {
	p, _ := ParseParent(sample)
	plain, own := carrier{}, &writer{carrier: carrier{}}
	SetParent(plain, p)
	SetParent(own, p)
	if plain[ParentHeader] != sample || own.carrier[ParentHeader] != sample || !own.text.used {
		t.Errorf("plain %v, writer %v (text used %v)", plain, own.carrier, own.text.used)
	}
}

func TestRemoteCarriesTheCallersTrace(t *testing.T) {
	if spanKey == nil {
		t.Fatal("OpenTelemetry's span key was not found: no request would carry a trace context without allocating")
	}
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	var r Remote
	ctx, ok := r.Parent(parent, carrier{ParentHeader: sample})
	if !ok || ctx != &r {
		t.Fatalf("Parent = %v, %v", ctx, ok)
	}
	want := extracted(sample, "")
	if got := trace.SpanContextFromContext(ctx); !got.Equal(want) || !got.IsRemote() {
		t.Fatalf("span context %v, the propagator extracts %v", got, want)
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		t.Error("the caller's span records")
	}
	if ctx.Value(key{}) != "v" {
		t.Error("other values are not the parent's")
	}
	if _, ok := r.Parent(parent, carrier{ParentHeader: sample}); ok {
		t.Error("a second Parent succeeded")
	}
	// A sampled trace's context is kept alike, sampled.
	const sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var rs Remote
	if sctx, ok := rs.Parent(parent, carrier{ParentHeader: sampled}); !ok || !trace.SpanContextFromContext(sctx).Equal(extracted(sampled, "")) {
		t.Errorf("sampled: Parent = %v, %v; span context %v, the propagator extracts %v", sctx, ok, trace.SpanContextFromContext(sctx), extracted(sampled, ""))
	}

	// Propagated on, it is the caller's traceparent.
	out := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, out)
	if out[ParentHeader] != sample {
		t.Errorf("injected %q, want %q", out[ParentHeader], sample)
	}

	// Code in the handler starts its spans under it, whatever its sampler.
	for _, tc := range []struct {
		sampler   sdktrace.Sampler
		recording bool
	}{{sdktrace.ParentBased(sdktrace.AlwaysSample()), false}, {sdktrace.AlwaysSample(), true}} {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(tc.sampler))
		_, s := tp.Tracer("test").Start(ctx, "work")
		sc := s.SpanContext()
		if s.IsRecording() != tc.recording || sc.TraceID() != want.TraceID() || sc.SpanID() == want.SpanID() {
			t.Errorf("%s: span recording %v, context %v; want recording %v in trace %v", tc.sampler.Description(), s.IsRecording(), sc, tc.recording, want.TraceID())
		}
		if ro, ok := s.(sdktrace.ReadOnlySpan); ok && !ro.Parent().Equal(want) {
			t.Errorf("%s: parent %v, want %v", tc.sampler.Description(), ro.Parent(), want)
		}
		s.End()
		tp.Shutdown(context.Background())
	}

	// Cancellation and deadlines are the parent's; contexts derived from
	// it end with the parent.
	child, stop := context.WithTimeout(ctx, time.Hour)
	defer stop()
	if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
		t.Error("a deadline or error of its own")
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from it outlived the parent's cancellation")
	}
	if !errors.Is(ctx.Err(), context.Canceled) || ctx.Done() != parent.Done() {
		t.Errorf("Err %v after the parent's cancellation", ctx.Err())
	}
}

func TestRemoteRefuses(t *testing.T) {
	for name, c := range map[string]carrier{
		"no trace context": {},
		"invalid":          {ParentHeader: "00-zz"},
		"with tracestate":  {ParentHeader: sample, StateHeader: "k=v"},
		"with baggage":     {ParentHeader: sample, BaggageHeader: "k=v"},
	} {
		var r Remote
		if ctx, ok := r.Parent(context.Background(), c); ok || ctx != context.Background() {
			t.Errorf("%s: Parent = %v, %v; want the context given and false", name, ctx, ok)
		}
	}
}

func TestRemoteAllocatesNothing(t *testing.T) {
	c := carrier{ParentHeader: sample}
	rs := make([]Remote, 101) // as in a request's state, allocated anyway
	i := 0
	n := testing.AllocsPerRun(100, func() {
		ctx, _ := rs[i].Parent(context.Background(), c)
		i++
		if !trace.SpanContextFromContext(ctx).IsValid() {
			t.Fatal("no span context")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}
