package mesh_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// chainPolicy lets a call a→b go once (so that b's own calls may retry)
// and retries b→c once on a gateway error.
const chainPolicy = `version: 1
services:
  b: {retries: {attempts: 1}}
  c: {retries: {attempts: 2, on: [gateway-error]}}
`

// chain is three services a → b → c on loopback: b calls c with its
// request's context, c answers 503 to its first request.
type chain struct {
	a, b, c *mesh.Node
	cHits   atomic.Int32
	aClient *http.Client
	// seen, when set, is called with every request b and c serve.
	seen atomic.Pointer[func(service string, r *http.Request)]
}

func (ch *chain) saw(service string, r *http.Request) {
	if f := ch.seen.Load(); f != nil {
		(*f)(service, r)
	}
}

// startChain starts the chain; cfg returns each node's extra settings.
func startChain(t *testing.T, m *meshtest.Mesh, cfg func(service string) mesh.Config) *chain {
	t.Helper()
	ch := &chain{}
	var bClient atomic.Pointer[http.Client]
	with := func(service string) mesh.Config {
		c := cfg(service)
		c.Service = service
		return c
	}
	ch.c = m.Serve(with("c"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch.saw("c", r)
		if ch.cHits.Add(1) == 1 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "c")
	})).Node
	ch.b = m.Serve(with("b"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch.saw("b", r)
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://c/stock", nil)
		resp, err := bClient.Load().Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		io.WriteString(w, "b+"+string(body))
	})).Node
	bClient.Store(ch.b.NewClient("c"))
	ch.a = m.Start(with("a"))
	meshtest.WaitEndpoints(t, ch.a, "b", 1)
	meshtest.WaitEndpoints(t, ch.b, "c", 1)
	ch.aClient = ch.a.NewClient("b")
	return ch
}

// call sends the chain's one request, a → b.
func (ch *chain) call(t *testing.T, ctx context.Context) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://b/checkout", nil)
	resp, err := ch.aClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "b+c" {
		t.Fatalf("a → b answered %d %q", resp.StatusCode, body)
	}
}

// TestTraceInProcess follows one request through a → b → c with the
// application's TracerProvider on each node and checks every span's
// name, kind, parent and attributes.
func TestTraceInProcess(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, chainPolicy)
	ch := startChain(t, m, func(service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		return mesh.Config{TracerProvider: tp, AdminAddr: "127.0.0.1:0"}
	})
	ch.call(t, context.Background())

	// a's call to b is answered at the first attempt: one client span.
	// b's call to c is retried: its first attempt goes under the call's
	// span, its second has a span of its own.
	var spans tracetest.SpanStubs
	meshtest.WaitFor(t, 5*time.Second, "6 spans", func() bool {
		spans = exp.GetSpans()
		return len(spans) >= 6
	})
	if len(spans) != 6 {
		t.Fatalf("%d spans, want 6: %v", len(spans), spanNames(spans))
	}
	service := func(s tracetest.SpanStub) string {
		v, _ := s.Resource.Set().Value("service.name")
		return v.AsString()
	}
	type key struct{ service, name string }
	byKey := map[key][]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != spans[0].SpanContext.TraceID() {
			t.Errorf("span %s of %s is in another trace", s.Name, service(s))
		}
		k := key{service(s), s.Name}
		byKey[k] = append(byKey[k], s)
	}
	one := func(service, name string, kind trace.SpanKind, n int) []tracetest.SpanStub {
		t.Helper()
		got := byKey[key{service, name}]
		if len(got) != n {
			t.Fatalf("%d spans %q in %s, want %d; spans: %v", len(got), name, service, n, spanNames(spans))
		}
		for _, s := range got {
			if s.SpanKind != kind {
				t.Errorf("%s %q is %v, want %v", service, name, s.SpanKind, kind)
			}
		}
		return got
	}
	aCall := one("a", "GET b", trace.SpanKindClient, 1)[0]
	bServer := one("b", "GET b", trace.SpanKindServer, 1)[0]
	bCall := one("b", "GET c", trace.SpanKindClient, 1)[0]
	bRetry := one("b", "GET c attempt", trace.SpanKindClient, 1)[0]
	cServers := one("c", "GET c", trace.SpanKindServer, 2)

	parent := func(child, parent tracetest.SpanStub, what string) {
		t.Helper()
		if child.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%s: parent %s, want %s", what, child.Parent.SpanID(), parent.SpanContext.SpanID())
		}
	}
	if aCall.Parent.IsValid() {
		t.Error("a's call span has a parent; it starts the trace")
	}
	parent(bServer, aCall, "b's server span under a's call")
	parent(bCall, bServer, "b's call under b's server span")
	parent(bRetry, bCall, "b's retry under b's call")
	if !bServer.Parent.IsRemote() || bCall.Parent.IsRemote() {
		t.Error("remote flags: b's server span should have a remote parent, b's call a local one")
	}
	if attrOf(aCall, "weft.endpoint") == nil || len(aCall.Events) != 0 {
		t.Errorf("a's call: attributes %v, events %v", aCall.Attributes, aCall.Events)
	}
	if attrOf(bRetry, "weft.attempt") != int64(2) || attrOf(bRetry, "weft.endpoint") == nil ||
		attrOf(bRetry, "http.request.resend_count") != int64(1) || attrOf(bRetry, "http.response.status_code") != int64(200) {
		t.Errorf("b's retry attributes %v", bRetry.Attributes)
	}
	if len(bCall.Events) != 1 || bCall.Events[0].Name != "weft.attempt" {
		t.Errorf("b's call events %v, want its first attempt's", bCall.Events)
	} else if got := eventAttr(bCall.Events[0], "http.response.status_code"); got != int64(503) {
		t.Errorf("b's first attempt answered %v, want 503", got)
	}
	// c's first server span is the child of b's call, which carried the
	// first attempt; its second of the retry.
	served := map[trace.SpanID]int64{}
	for _, s := range cServers {
		served[s.Parent.SpanID()] = attrOf(s, "http.response.status_code").(int64)
	}
	if served[bCall.SpanContext.SpanID()] != 503 || served[bRetry.SpanContext.SpanID()] != 200 {
		t.Errorf("c's server spans by parent: %v", served)
	}
	if attrOf(bCall, "weft.attempts") != int64(2) || attrOf(bCall, "weft.source") != "b" || attrOf(bCall, "server.address") != "c" || bCall.Status.Code == codes.Error {
		t.Errorf("b's call attributes %v, status %v", bCall.Attributes, bCall.Status)
	}
	if attrOf(bServer, "weft.source") != "a" || attrOf(bServer, "url.path") != "/checkout" {
		t.Errorf("b's server span attributes %v", bServer.Attributes)
	}

	// The routing history links the call to its trace.
	st := ch.b.Status()
	if len(st.Decisions) == 0 || st.Decisions[0].TraceID != bCall.SpanContext.TraceID().String() || st.Decisions[0].Attempts != 2 {
		t.Errorf("b's decisions %+v", st.Decisions)
	}
}

// TestTraceSampledOut checks that with sampling at 0 nothing is recorded
// along the chain, yet the request works, and that a sampled caller's
// decision is followed downstream (parent-based).
func TestTraceSampledOut(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, chainPolicy)
	ch := startChain(t, m, func(service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		return mesh.Config{TracerProvider: tp}
	})
	ch.call(t, context.Background())
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans recorded with sampling off", n)
	}
	// A caller that sampled its trace: every hop follows it.
	root := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer root.Shutdown(context.Background())
	ctx, span := root.Tracer("test").Start(context.Background(), "test")
	ch.cHits.Store(0)
	ch.call(t, ctx)
	span.End()
	// The chain's 6 spans (see TestTraceInProcess) and the caller's.
	meshtest.WaitFor(t, 5*time.Second, "spans of the sampled trace", func() bool { return len(exp.GetSpans()) >= 7 })
	if n := len(exp.GetSpans()); n != 7 {
		t.Errorf("%d spans, want 7: %v", n, spanNames(exp.GetSpans()))
	}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() != span.SpanContext().TraceID() {
			t.Errorf("span %s not in the caller's trace", s.Name)
		}
	}
}

// TestTraceSampledOutTravels checks that a trace sampled out at its root
// stays one trace along a → b → c, each hop its own child, and that code
// in a handler finds its caller's trace context as OpenTelemetry's remote
// parent: a node that records nothing still passes W3C trace context on
// as the propagator would, with the propagation the node sets up itself
// and with the application's.
func TestTraceSampledOutTravels(t *testing.T) {
	for _, tc := range []struct {
		name string
		prop propagation.TextMapPropagator
	}{
		{"own propagation", nil},
		{"application's propagator", propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			m := meshtest.New(t)
			m.PolicyFile = writePolicy(t, chainPolicy)
			ch := startChain(t, m, func(service string) mesh.Config {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
					sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
				t.Cleanup(func() { tp.Shutdown(context.Background()) })
				return mesh.Config{TracerProvider: tp, Propagator: tc.prop}
			})
			// The handlers' own instrumentation samples everything it is
			// asked to, so that its spans show the parent it was given.
			handlerSpans := tracetest.NewInMemoryExporter()
			handlerTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(handlerSpans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			defer handlerTP.Shutdown(context.Background())
			type hop struct {
				service     string
				traceparent string
				ctx         trace.SpanContext
			}
			var mu sync.Mutex
			var hops []hop
			seen := func(service string, r *http.Request) {
				ctx := trace.SpanContextFromContext(r.Context())
				_, span := handlerTP.Tracer("handler").Start(r.Context(), "work in "+service)
				span.End()
				mu.Lock()
				hops = append(hops, hop{service, r.Header.Get("traceparent"), ctx})
				mu.Unlock()
			}
			ch.seen.Store(&seen)
			ch.call(t, context.Background())
			if n := len(exp.GetSpans()); n != 0 {
				t.Fatalf("%d spans recorded by the nodes with sampling off", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hops) != 3 || hops[0].service != "b" {
				t.Fatalf("requests served: %+v, want b's then c's two", hops)
			}
			trID := hops[0].ctx.TraceID()
			for _, h := range hops {
				want := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": h.traceparent}))
				if !want.IsValid() || want.TraceID() != trID || want.IsSampled() {
					t.Errorf("%s got traceparent %q; want a valid one in trace %s, not sampled", h.service, h.traceparent, trID)
				}
				if !h.ctx.Equal(want) {
					t.Errorf("%s's request context has span context %v, its traceparent says %v", h.service, h.ctx, want)
				}
				if h.service == "c" && want.SpanID() == hops[0].ctx.SpanID() {
					t.Errorf("c got b's parent span %s: each hop is a new child", want.SpanID())
				}
			}
			// The handlers' spans are children of what each request came with.
			work := handlerSpans.GetSpans()
			if len(work) != 3 {
				t.Fatalf("%d handler spans, want 3", len(work))
			}
			for i, s := range work {
				if !s.Parent.Equal(hops[i].ctx) || s.SpanContext.TraceID() != trID {
					t.Errorf("handler span %q: parent %v in trace %s, want parent %v in trace %s", s.Name, s.Parent, s.SpanContext.TraceID(), hops[i].ctx, trID)
				}
			}
		})
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// eventAttr returns a span event's attribute value, nil when absent.
func eventAttr(e sdktrace.Event, key string) any {
	for _, kv := range e.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface()
		}
	}
	return nil
}

func attrOf(s tracetest.SpanStub, key string) any {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface()
		}
	}
	return nil
}
