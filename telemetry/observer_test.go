package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport/observe"
)

// callB plays a call from a to b the way the transport reports it: the
// first attempt answers 503, the second 200.
func callB(ctx context.Context, tel *telemetry.Telemetry) (*observe.CallInfo, [2]http.Header) {
	start := time.Now()
	c := &observe.CallInfo{Protocol: observe.ProtocolHTTP, Source: "a", Destination: "b", Method: "GET", Path: "/items/1", Route: "reads", Start: start}
	ctx = tel.StartCall(ctx, c)
	c.Subset = "v1"
	var headers [2]http.Header
	for i, status := range []int{503, 200} {
		headers[i] = http.Header{"X-Shared": {"kept"}}
		a := &observe.AttemptInfo{N: i + 1, Endpoint: "127.0.0.1:900" + string(rune('1'+i)), Node: "b-1", Start: time.Now(), Carrier: observe.HeaderCarrier(headers[i])}
		actx := tel.StartAttempt(ctx, c, a)
		a.Status, a.Outcome, a.End = status, "ok", time.Now()
		if status >= 500 {
			a.Outcome, a.BreakerOpened, a.Ejected = "error", true, true
		}
		tel.EndAttempt(actx, c, a)
	}
	c.Attempts, c.Status, c.Endpoint, c.End = 2, 200, "127.0.0.1:9002", start.Add(30*time.Millisecond)
	tel.EndCall(ctx, c)
	return c, headers
}

func TestCallSpans(t *testing.T) {
	r := newRig(t, telemetry.Config{}, true)
	bag, err := baggage.New(mustMember(t, "tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	c, headers := callB(baggage.ContextWithBaggage(context.Background(), bag), r.tel)

	spans := r.spans.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want the call and its second attempt: %v", len(spans), names(spans))
	}
	a2, call := spans[0], spans[1]
	if call.Name != "GET b" || call.SpanKind != trace.SpanKindClient || call.Parent.IsValid() {
		t.Errorf("call span %q kind %v parent %v", call.Name, call.SpanKind, call.Parent)
	}
	if a2.Name != "GET b attempt" || a2.SpanKind != trace.SpanKindClient || a2.Parent.SpanID() != call.SpanContext.SpanID() {
		t.Errorf("attempt 2: %q kind %v parent %v, want a client child of the call", a2.Name, a2.SpanKind, a2.Parent.SpanID())
	}
	if attr(a2, "weft.attempt") != int64(2) || attr(a2, "http.request.resend_count") != int64(1) ||
		attr(a2, "weft.endpoint") != "127.0.0.1:9002" || attr(a2, "weft.outcome") != "ok" || a2.Status.Code == codes.Error {
		t.Errorf("attempt 2: attributes %v, status %v", a2.Attributes, a2.Status)
	}
	// The first attempt goes out under the call's span; the second under
	// its own.
	for i, sc := range []trace.SpanContext{call.SpanContext, a2.SpanContext} {
		tp := headers[i].Get("Traceparent")
		if !strings.Contains(tp, sc.SpanID().String()) || !strings.Contains(tp, sc.TraceID().String()) {
			t.Errorf("attempt %d sent traceparent %q, want span %s", i+1, tp, sc.SpanID())
		}
		if headers[i].Get("Baggage") != "tenant=acme" || headers[i].Get("X-Shared") != "kept" {
			t.Errorf("attempt %d headers %v", i+1, headers[i])
		}
	}
	// The failed first attempt, the breaker it opened and the ejection
	// are events on the call's span.
	var first *sdktrace.Event
	var events []string
	for i, e := range call.Events {
		events = append(events, e.Name)
		if e.Name == "weft.attempt" {
			first = &call.Events[i]
		}
	}
	if len(events) != 3 || first == nil {
		t.Fatalf("call span events %v, want the breaker, the ejection and the first attempt", events)
	}
	got := map[string]any{}
	for _, kv := range first.Attributes {
		got[string(kv.Key)] = kv.Value.AsInterface()
	}
	if got["weft.attempt"] != int64(1) || got["weft.endpoint"] != "127.0.0.1:9001" || got["weft.outcome"] != "error" ||
		got["http.response.status_code"] != int64(503) || got["http.request.resend_count"] != nil {
		t.Errorf("first attempt's event: %v", got)
	}
	if attr(call, "weft.route") != "reads" || attr(call, "weft.subset") != "v1" || attr(call, "weft.attempts") != int64(2) ||
		attr(call, "weft.endpoint") != "127.0.0.1:9002" || attr(call, "http.response.status_code") != int64(200) || call.Status.Code == codes.Error {
		t.Errorf("call attributes %v, status %v", call.Attributes, call.Status)
	}
	if c.TraceID.String() != call.SpanContext.TraceID().String() {
		t.Errorf("CallInfo.TraceID = %q, want the call's trace", c.TraceID)
	}

	// The server continues the trace under the second attempt, with the
	// caller's baggage.
	in := &observe.InboundInfo{Protocol: observe.ProtocolHTTP, Method: "GET", Path: "/items/1", Start: time.Now(), Carrier: observe.HeaderCarrier(headers[1])}
	sctx := r.tel.StartInbound(context.Background(), in)
	if m := baggage.FromContext(sctx).Member("tenant"); m.Value() != "acme" {
		t.Errorf("baggage on the server: %q", m.Value())
	}
	in.Status, in.Source, in.End = 200, "a", time.Now()
	r.tel.EndInbound(sctx, in)
	spans = r.spans.GetSpans()
	server := spans[len(spans)-1]
	if server.Name != "GET b" || server.SpanKind != trace.SpanKindServer || server.Parent.SpanID() != a2.SpanContext.SpanID() || !server.Parent.IsRemote() {
		t.Errorf("server span %q kind %v parent %v, want a remote child of attempt 2 (%v)", server.Name, server.SpanKind, server.Parent.SpanID(), a2.SpanContext.SpanID())
	}
}

// TestCallAnsweredFirstTimeIsOneSpan checks that a call its first attempt
// answers makes one client span, which the attempt carries and which
// tells where it went, and no event.
func TestCallAnsweredFirstTimeIsOneSpan(t *testing.T) {
	r := newRig(t, telemetry.Config{}, true)
	hdr := http.Header{}
	c := &observe.CallInfo{Protocol: observe.ProtocolHTTP, Source: "a", Destination: "b", Method: "GET", Path: "/", Start: time.Now()}
	ctx := r.tel.StartCall(context.Background(), c)
	a := &observe.AttemptInfo{N: 1, Endpoint: "127.0.0.1:9001", Node: "b-1", Start: time.Now(), Carrier: observe.HeaderCarrier(hdr)}
	actx := r.tel.StartAttempt(ctx, c, a)
	a.Status, a.Outcome, a.End = 404, "ok", time.Now()
	r.tel.EndAttempt(actx, c, a)
	c.Attempts, c.Status, c.Endpoint, c.End = 1, 404, a.Endpoint, time.Now()
	r.tel.EndCall(ctx, c)

	spans := r.spans.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want the call's alone: %v", len(spans), names(spans))
	}
	call := spans[0]
	if tp := hdr.Get("Traceparent"); !strings.Contains(tp, call.SpanContext.SpanID().String()) {
		t.Errorf("the attempt sent traceparent %q, want the call's span %s", tp, call.SpanContext.SpanID())
	}
	if len(call.Events) != 0 || attr(call, "weft.endpoint") != "127.0.0.1:9001" || attr(call, "weft.attempts") != int64(1) ||
		attr(call, "http.response.status_code") != int64(404) || call.Status.Code != codes.Error {
		t.Errorf("call span: attributes %v, events %v, status %v", call.Attributes, call.Events, call.Status)
	}
	// Beyond 8 attributes the SDK's end of a span allocates three times
	// more.
	if len(call.Attributes) > 8 {
		t.Errorf("the call span has %d attributes, want at most 8: %v", len(call.Attributes), call.Attributes)
	}
}

func TestCallMetrics(t *testing.T) {
	r := newRig(t, telemetry.Config{}, false)
	for range 3 {
		callB(context.Background(), r.tel)
	}
	// A call that got no answer, and one hedged that hit the budget.
	failed := &observe.CallInfo{Protocol: "http", Source: "a", Destination: "b", Method: "POST", Start: time.Now()}
	ctx := r.tel.StartCall(context.Background(), failed)
	failed.Attempts, failed.Hedges, failed.BudgetExhausted, failed.Err, failed.End = 2, 1, true, errors.New("refused"), time.Now()
	r.tel.EndCall(ctx, failed)

	m := r.metrics(t)
	const reads = "destination=b,protocol=http,response_class=2xx,route=reads,source=a"
	const failedKey = "destination=b,protocol=http,response_class=error,route=,source=a"
	if got := sums(t, m["weft.client.requests"]); got[reads] != 3 || got[failedKey] != 1 || len(got) != 2 {
		t.Errorf("requests = %v", got)
	}
	if got := histCounts(t, m["weft.client.request.duration"]); got[reads] != 3 || got[failedKey] != 1 {
		t.Errorf("duration counts = %v", got)
	}
	for k, v := range sums(t, m["weft.client.active_requests"]) {
		if v != 0 {
			t.Errorf("active requests %s = %d after every call ended", k, v)
		}
	}
	if got := sums(t, m["weft.client.retries"]); got["destination=b,route=reads"] != 3 || len(got) != 1 {
		t.Errorf("retries = %v (the hedged call's second attempt is a hedge, not a retry)", got)
	}
	if got := sums(t, m["weft.client.hedges"]); got["destination=b,route="] != 1 {
		t.Errorf("hedges = %v", got)
	}
	if got := sums(t, m["weft.client.retry_budget.exhausted"]); got["destination=b"] != 1 {
		t.Errorf("budget exhausted = %v", got)
	}
	if got := sums(t, m["weft.client.breaker.transitions"]); got["destination=b,state=open"] != 3 {
		t.Errorf("breaker transitions = %v", got)
	}
	if got := sums(t, m["weft.client.ejections"]); got["destination=b"] != 3 {
		t.Errorf("ejections = %v", got)
	}
}

func TestInboundMetricsAndCardinality(t *testing.T) {
	r := newRig(t, telemetry.Config{}, false)
	serve := func(source string, status int) {
		in := &observe.InboundInfo{Protocol: "http", Method: "GET", Path: "/", Start: time.Now()}
		ctx := r.tel.StartInbound(context.Background(), in)
		in.Source, in.Status, in.End = source, status, time.Now()
		r.tel.EndInbound(ctx, in)
	}
	serve("a", 200)
	serve("a", 404)
	serve("", 500)
	// Callers that name themselves freely cannot grow the series without
	// bound.
	for i := range 1200 {
		serve("caller-"+itoa(i), 200)
	}
	got := sums(t, r.metrics(t)["weft.server.requests"])
	if got["destination=b,protocol=http,response_class=2xx,source=a"] != 1 ||
		got["destination=b,protocol=http,response_class=4xx,source=a"] != 1 ||
		got["destination=b,protocol=http,response_class=5xx,source=unknown"] != 1 {
		t.Errorf("server requests = %v", got)
	}
	if len(got) > 1001 {
		t.Errorf("%d series for 1203 callers, want at most 1001", len(got))
	}
	if other := got["destination=other,protocol=other,response_class=other,source=other"]; other == 0 {
		t.Error("no overflow series for callers beyond the bound")
	}
	var total int64
	for _, v := range got {
		total += v
	}
	if total != 1203 {
		t.Errorf("%d requests counted, want 1203", total)
	}
}

func TestAccessLog(t *testing.T) {
	r := newRig(t, telemetry.Config{AccessLog: true}, true)
	c, headers := callB(context.Background(), r.tel)
	in := &observe.InboundInfo{Protocol: "http", Method: "GET", Path: "/items/1", Start: time.Now(), Carrier: observe.HeaderCarrier(headers[1])}
	ctx := r.tel.StartInbound(context.Background(), in)
	in.Source, in.Status, in.End = "a", 200, in.Start.Add(5*time.Millisecond)
	r.tel.EndInbound(ctx, in)

	lines := r.logLines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want one outbound and one inbound: %v", len(lines), lines)
	}
	out, inb := lines[0], lines[1]
	want := map[string]any{"msg": "weft: access", "direction": "outbound", "source": "a", "destination": "b", "method": "GET",
		"path": "/items/1", "route": "reads", "subset": "v1", "endpoint": "127.0.0.1:9002", "status": 200.0, "attempts": 2.0, "duration_ms": 30.0, "trace_id": c.TraceID.String()}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("outbound %s = %v, want %v", k, out[k], v)
		}
	}
	want = map[string]any{"direction": "inbound", "source": "a", "destination": "b", "status": 200.0, "duration_ms": 5.0, "trace_id": c.TraceID.String(), "peer": ""}
	for k, v := range want {
		if inb[k] != v {
			t.Errorf("inbound %s = %v, want %v", k, inb[k], v)
		}
	}

	// Turned off live.
	if err := r.tel.Update(telemetry.Config{}); err != nil {
		t.Fatal(err)
	}
	callB(context.Background(), r.tel)
	if n := len(r.logLines(t)); n != 2 {
		t.Errorf("%d lines after the access log was turned off, want still 2", n)
	}
}

// TestTracingOff checks that without tracing nothing is injected or
// extracted and no span is made, and that a call costs no allocation.
func TestTracingOff(t *testing.T) {
	clearOTELEnv(t)
	r := newRig(t, telemetry.Config{}, false)
	if r.tel.Tracing() || !r.tel.Observes() {
		t.Fatalf("tracing %v, observes %v: want metrics only", r.tel.Tracing(), r.tel.Observes())
	}
	_, headers := callB(context.Background(), r.tel)
	if len(headers[0]) != 1 || len(headers[1]) != 1 {
		t.Errorf("headers written without tracing: %v", headers)
	}
	in := &observe.InboundInfo{Protocol: "http", Method: "GET", Carrier: observe.HeaderCarrier(http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}})}
	if ctx := r.tel.StartInbound(context.Background(), in); trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("trace context extracted without tracing")
	}

	hdr := http.Header{}
	c := &observe.CallInfo{Protocol: "http", Source: "a", Destination: "b", Method: "GET", Route: "reads"}
	a := &observe.AttemptInfo{N: 1, Carrier: observe.HeaderCarrier(hdr)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		cctx := r.tel.StartCall(ctx, c)
		actx := r.tel.StartAttempt(cctx, c, a)
		r.tel.EndAttempt(actx, c, a)
		c.Status = 200
		r.tel.EndCall(cctx, c)
		ictx := r.tel.StartInbound(ctx, in)
		in.Status, in.Source = 200, "a"
		r.tel.EndInbound(ictx, in)
	})
	if allocs > 0 {
		t.Errorf("a call and a request served allocate %v times with tracing off, want 0", allocs)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// attr returns a span attribute's value, nil when absent.
func attr(s tracetest.SpanStub, key string) any {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface()
		}
	}
	return nil
}

func mustMember(t *testing.T, k, v string) baggage.Member {
	t.Helper()
	m, err := baggage.NewMember(k, v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// clearOTELEnv unsets the OTEL_* variables Telemetry reads, for the
// test's duration.
func clearOTELEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS"} {
		t.Setenv(k, "")
	}
}

// TestNoMetricsNoLabels checks that a Telemetry that records no metrics
// (tracing only, no meter provider, nothing scraped) spends nothing on
// metric labels: calls to and requests from services it never saw, which
// would each make a label set, allocate nothing under a trace sampled out.
func TestNoMetricsNoLabels(t *testing.T) {
	clearOTELEnv(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tel, err := telemetry.New(context.Background(), telemetry.Config{}, telemetry.Options{Service: "b", TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprint("svc-", i)
	}
	ctx := context.Background()
	// The trace sampled out at its root costs its span and context in the
	// SDK whatever the service; only label sets would depend on it.
	run := func(next func() string) float64 {
		return testing.AllocsPerRun(100, func() {
			name := next()
			c := observe.CallInfo{Protocol: "http", Source: "a", Destination: name, Method: "GET", Route: name, Status: 200}
			a := observe.AttemptInfo{N: 1, BreakerOpened: true, Ejected: true}
			in := observe.InboundInfo{Protocol: "http", Method: "GET", Source: name, Status: 200}
			cctx := tel.StartCall(ctx, &c)
			tel.EndAttempt(cctx, &c, &a)
			tel.EndCall(cctx, &c)
			tel.EndInbound(ctx, &in)
		})
	}
	same := run(func() string { return names[0] })
	i := 0
	fresh := run(func() string { i++; return names[i] })
	if fresh > same {
		t.Errorf("a call and a request to new services allocate %v times without metrics, to one seen before %v; want no more", fresh, same)
	}
}
