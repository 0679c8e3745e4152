package mesh_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// grpcTelemetryPolicy retries Charge, which it declares idempotent, once
// on a gateway error (Unavailable), and turns the access log on.
const grpcTelemetryPolicy = `version: 1
telemetry: {accessLog: true}
services:
  payments:
    retries: {attempts: 2, on: [gateway-error]}
    routes: [{name: charge, match: {path: /shop.Payments/Charge}, idempotent: true}]
`

// TestGRPCTelemetry sends gRPC calls client → payments, the first of
// which payments answers Unavailable once, and checks the trace, the
// metrics, the access log and the routing history both sides keep.
func TestGRPCTelemetry(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, grpcTelemetryPolicy)
	var logs [2]logBuffer
	config := func(i int, service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		return mesh.Config{Service: service, TracerProvider: tp, AdminAddr: "127.0.0.1:0",
			Logger: slog.New(slog.NewJSONHandler(&logs[i], nil))}
	}
	var charges atomic.Int32
	impl := &payments{name: "p1", calls: &counter{}, onCharge: func(ctx context.Context) error {
		if charges.Add(1) == 1 {
			return status.Error(codes.Unavailable, "warming up")
		}
		if v := metadata.ValueFromIncomingContext(ctx, "x-order"); len(v) > 0 && v[0] == "missing" {
			return status.Error(codes.NotFound, "no such order")
		}
		return nil
	}}
	backend := serveGRPC(t, m, config(0, "payments"), impl)
	client := m.Start(config(1, "client"))
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")

	rec, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: "o1", AmountCents: 100})
	if err != nil || rec.ServedBy != "p1" {
		t.Fatalf("Charge: %v, %v", rec, err)
	}

	// One trace: the call, which carried the first attempt, the retry,
	// and a server span under each.
	var spans tracetest.SpanStubs
	meshtest.WaitFor(t, 5*time.Second, "4 spans", func() bool {
		spans = exp.GetSpans()
		return len(spans) >= 4
	})
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4: %v", len(spans), spanNames(spans))
	}
	const name = "/shop.Payments/Charge payments"
	var call, retry tracetest.SpanStub
	var servers []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanContext.TraceID() != spans[0].SpanContext.TraceID() {
			t.Errorf("span %s is in another trace", s.Name)
		}
		switch {
		case s.Name == name && s.SpanKind == trace.SpanKindClient:
			call = s
		case s.Name == name+" attempt" && s.SpanKind == trace.SpanKindClient:
			retry = s
		case s.Name == name && s.SpanKind == trace.SpanKindServer:
			servers = append(servers, s)
		default:
			t.Errorf("unexpected span %q (%v)", s.Name, s.SpanKind)
		}
	}
	if !call.SpanContext.IsValid() || !retry.SpanContext.IsValid() || len(servers) != 2 {
		t.Fatalf("spans %v: want a call span, its retry and 2 server spans", spanNames(spans))
	}
	if call.Parent.IsValid() {
		t.Error("the call span has a parent; it starts the trace")
	}
	if attrOf(call, "weft.protocol") != "grpc" || attrOf(call, "weft.route") != "charge" || attrOf(call, "weft.attempts") != int64(2) ||
		attrOf(call, "weft.endpoint") != backend.Addr || call.Status.Code == otelcodes.Error {
		t.Errorf("call span attributes %v, status %v", call.Attributes, call.Status)
	}
	if len(call.Events) != 1 || eventAttr(call.Events[0], "weft.outcome") != "error" ||
		eventAttr(call.Events[0], "http.response.status_code") != int64(codes.Unavailable) || eventAttr(call.Events[0], "weft.endpoint") != backend.Addr {
		t.Errorf("call span events %v, want the first attempt's failure", call.Events)
	}
	if retry.Parent.SpanID() != call.SpanContext.SpanID() {
		t.Errorf("retry: parent %s, want the call span %s", retry.Parent.SpanID(), call.SpanContext.SpanID())
	}
	if attrOf(retry, "weft.attempt") != int64(2) || attrOf(retry, "weft.endpoint") != backend.Addr ||
		attrOf(retry, "weft.outcome") != "ok" || retry.Status.Code == otelcodes.Error {
		t.Errorf("retry: attributes %v, status %v", retry.Attributes, retry.Status)
	}
	byParent := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range servers {
		if !s.Parent.IsRemote() {
			t.Errorf("server span %s: its parent is not remote", s.SpanContext.SpanID())
		}
		byParent[s.Parent.SpanID()] = s
	}
	// The first attempt went out under the call's span, the retry under
	// its own.
	first, ok1 := byParent[call.SpanContext.SpanID()]
	second, ok2 := byParent[retry.SpanContext.SpanID()]
	if !ok1 || !ok2 {
		t.Fatalf("server spans are not the attempts' children: parents %v", byParent)
	}
	if first.Status.Code != otelcodes.Error || attrOf(first, "http.response.status_code") != int64(codes.Unavailable) ||
		second.Status.Code == otelcodes.Error || attrOf(second, "weft.source") != "client" || attrOf(second, "weft.protocol") != "grpc" {
		t.Errorf("server spans: first %v %v, second %v %v", first.Attributes, first.Status, second.Attributes, second.Status)
	}

	// A call the server answers NotFound: an answer, not a failure to
	// retry.
	missing := metadata.AppendToOutgoingContext(context.Background(), "x-order", "missing")
	if _, err := pc.Charge(missing, &shoppb.ChargeRequest{OrderId: "o2"}); code(err) != codes.NotFound {
		t.Fatalf("Charge o2: %v, want NotFound", err)
	}
	if _, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 2}); err != nil {
		t.Fatal(err)
	}

	// Exact counts on /metrics, by gRPC code.
	const clientSeries = `weft_client_requests_total{destination="payments",protocol="grpc",`
	got := scrape(t, client)
	for series, want := range map[string]float64{
		clientSeries + `response_class="ok",route="charge",source="client"}`:                                 1,
		clientSeries + `response_class="not_found",route="charge",source="client"}`:                          1,
		clientSeries + `response_class="ok",route="",source="client"}`:                                       1,
		`weft_client_retries_total{destination="payments",route="charge"}`:                                   1,
		`weft_client_active_requests{destination="payments",protocol="grpc",route="charge",source="client"}`: 0,
	} {
		if got[series] != want {
			t.Errorf("client %s = %v, want %v", series, got[series], want)
		}
	}
	const serverSeries = `weft_server_requests_total{destination="payments",protocol="grpc",`
	meshtest.WaitFor(t, 5*time.Second, "server counts", func() bool {
		got = scrape(t, backend.Node)
		return got[serverSeries+`response_class="ok",source="client"}`] == 2
	})
	for series, want := range map[string]float64{
		serverSeries + `response_class="unavailable",source="client"}`: 1,
		serverSeries + `response_class="not_found",source="client"}`:   1,
	} {
		if got[series] != want {
			t.Errorf("server %s = %v, want %v", series, got[series], want)
		}
	}

	// One access log line per call on the client, per attempt on the
	// server, with the trace they belong to.
	var in, out []map[string]any
	meshtest.WaitFor(t, 5*time.Second, "access log lines", func() bool {
		in, out = logs[0].access(t), logs[1].access(t)
		return len(in) == 4 && len(out) == 3
	})
	o := out[0]
	for k, v := range map[string]any{"direction": "outbound", "protocol": "grpc", "source": "client", "destination": "payments",
		"method": "/shop.Payments/Charge", "route": "charge", "status": 0.0, "attempts": 2.0, "endpoint": backend.Addr,
		"trace_id": call.SpanContext.TraceID().String()} {
		if o[k] != v {
			t.Errorf("outbound %s = %v, want %v", k, o[k], v)
		}
	}
	if out[1]["status"] != float64(codes.NotFound) || out[1]["error"] == nil {
		t.Errorf("outbound NotFound line %v", out[1])
	}
	i := in[1]
	for k, v := range map[string]any{"direction": "inbound", "protocol": "grpc", "source": "client", "destination": "payments",
		"method": "/shop.Payments/Charge", "status": 0.0, "trace_id": call.SpanContext.TraceID().String()} {
		if i[k] != v {
			t.Errorf("inbound %s = %v, want %v", k, i[k], v)
		}
	}

	// The routing history keeps gRPC calls too, linked to their trace.
	ds := client.Status().Decisions
	if len(ds) != 3 {
		t.Fatalf("%d decisions, want 3: %+v", len(ds), ds)
	}
	d := ds[2] // newest first
	if d.Destination != "payments" || d.Method != "/shop.Payments/Charge" || d.Route != "charge" || d.Attempts != 2 ||
		d.TraceID != call.SpanContext.TraceID().String() || d.Endpoint != backend.Addr || len(d.Tries) != 2 ||
		d.Tries[0].Outcome != "error" || d.Tries[1].Outcome != "ok" || d.Outcome != "ok" {
		t.Errorf("decision %+v", d)
	}
}

// TestGRPCTelemetryStream checks that a stream is one call whose span
// ends when the stream does, and that a traced server stream continues
// the caller's trace.
func TestGRPCTelemetryStream(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	m := meshtest.New(t)
	config := func(service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		return mesh.Config{Service: service, TracerProvider: tp}
	}
	serveGRPC(t, m, config("payments"), &payments{name: "p1", calls: &counter{}})
	client := m.Start(config("client"))
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")

	stream, err := pc.Watch(context.Background(), &shoppb.WatchRequest{PaymentId: "pay-1", Updates: 2})
	if err != nil {
		t.Fatal(err)
	}
	// While the stream is open, its call span is too.
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient && s.Name == "/shop.Payments/Watch payments" {
			t.Fatal("the call span ended before the stream")
		}
	}
	n := 0
	for {
		_, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d updates, want 2", n)
	}
	var spans tracetest.SpanStubs
	meshtest.WaitFor(t, 5*time.Second, "2 spans", func() bool {
		spans = exp.GetSpans()
		return len(spans) >= 2
	})
	kinds := map[trace.SpanKind][]tracetest.SpanStub{}
	for _, s := range spans {
		kinds[s.SpanKind] = append(kinds[s.SpanKind], s)
	}
	if len(spans) != 2 || len(kinds[trace.SpanKindClient]) != 1 || len(kinds[trace.SpanKindServer]) != 1 {
		t.Fatalf("spans %v, want the call, which carried its one attempt, and a server span", spanNames(spans))
	}
	srv, call := kinds[trace.SpanKindServer][0], kinds[trace.SpanKindClient][0]
	if call.Name != "/shop.Payments/Watch payments" || srv.Parent.SpanID() != call.SpanContext.SpanID() || srv.SpanContext.TraceID() != call.SpanContext.TraceID() {
		t.Errorf("server span parent %s, want the call %q %s", srv.Parent.SpanID(), call.Name, call.SpanContext.SpanID())
	}
}

// TestGRPCTraceSampledOut checks that a gRPC server whose caller sampled
// the trace out records nothing, and that the handler's context carries
// the trace context the call arrived with, as the propagator would
// extract it, and the caller's trace.
func TestGRPCTraceSampledOut(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	m := meshtest.New(t)
	config := func(service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		return mesh.Config{Service: service, TracerProvider: tp}
	}
	type seen struct {
		traceparent string
		ctx         trace.SpanContext
	}
	got := make(chan seen, 1)
	impl := &payments{name: "p1", calls: &counter{}, onCharge: func(ctx context.Context) error {
		var s seen
		if v := metadata.ValueFromIncomingContext(ctx, "traceparent"); len(v) == 1 {
			s.traceparent = v[0]
		}
		s.ctx = trace.SpanContextFromContext(ctx)
		got <- s
		return nil
	}}
	serveGRPC(t, m, config("payments"), impl)
	client := m.Start(config("client"))
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")
	if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: "o1"}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	want := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": s.traceparent}))
	if !want.IsValid() || want.IsSampled() || !s.ctx.Equal(want) {
		t.Errorf("handler's span context %v, traceparent %q (%v): want a valid one, not sampled, the same", s.ctx, s.traceparent, want)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded with sampling off", n)
	}
}
