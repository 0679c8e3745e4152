package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
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
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want the call and two attempts: %v", len(spans), names(spans))
	}
	// Attempts end first.
	a1, a2, call := spans[0], spans[1], spans[2]
	if call.Name != "GET b" || call.SpanKind != trace.SpanKindClient || call.Parent.IsValid() {
		t.Errorf("call span %q kind %v parent %v", call.Name, call.SpanKind, call.Parent)
	}
	for i, a := range []tracetest.SpanStub{a1, a2} {
		if a.Name != "GET b attempt" || a.SpanKind != trace.SpanKindClient || a.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("attempt %d: %q kind %v parent %v, want a child of the call", i+1, a.Name, a.SpanKind, a.Parent.SpanID())
		}
		if got := attr(a, "weft.attempt"); got != int64(i+1) {
			t.Errorf("attempt %d: weft.attempt = %v", i+1, got)
		}
		// Each attempt carries its own span as the parent of the server's.
		tp := headers[i].Get("Traceparent")
		if !strings.Contains(tp, a.SpanContext.SpanID().String()) || !strings.Contains(tp, call.SpanContext.TraceID().String()) {
			t.Errorf("attempt %d sent traceparent %q, want its own span %s", i+1, tp, a.SpanContext.SpanID())
		}
		if headers[i].Get("Baggage") != "tenant=acme" || headers[i].Get("X-Shared") != "kept" {
			t.Errorf("attempt %d headers %v", i+1, headers[i])
		}
	}
	if a1.Status.Code != codes.Error || attr(a1, "http.response.status_code") != int64(503) || len(a1.Events) != 2 {
		t.Errorf("failed attempt: status %v, code %v, events %v", a1.Status, attr(a1, "http.response.status_code"), a1.Events)
	}
	if attr(a2, "http.request.resend_count") != int64(1) || attr(a1, "http.request.resend_count") != nil {
		t.Errorf("resend_count: first %v, second %v", attr(a1, "http.request.resend_count"), attr(a2, "http.request.resend_count"))
	}
	if attr(call, "weft.route") != "reads" || attr(call, "weft.subset") != "v1" || attr(call, "weft.attempts") != int64(2) || call.Status.Code == codes.Error {
		t.Errorf("call attributes %v, status %v", call.Attributes, call.Status)
	}
	if c.TraceID != call.SpanContext.TraceID().String() {
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
		"path": "/items/1", "route": "reads", "subset": "v1", "endpoint": "127.0.0.1:9002", "status": 200.0, "attempts": 2.0, "duration_ms": 30.0, "trace_id": c.TraceID}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("outbound %s = %v, want %v", k, out[k], v)
		}
	}
	want = map[string]any{"direction": "inbound", "source": "a", "destination": "b", "status": 200.0, "duration_ms": 5.0, "trace_id": c.TraceID, "peer": ""}
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
