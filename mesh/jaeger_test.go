package mesh_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/jaegertest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// TestTraceInJaeger runs a → b → c, with b's call to c retried once after
// a 503, on nodes that export over OTLP (gRPC for a, HTTP for b and c) to
// a real Jaeger, and checks through Jaeger's query API that one trace
// holds the spans of all three services with the right parents, both
// attempts included.
func TestTraceInJaeger(t *testing.T) {
	j := jaegertest.New(t)
	// Spans leave each node within 100 ms instead of the SDK's 5 s.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	policies := map[string]string{
		"a": fmt.Sprintf("{endpoint: %q, protocol: grpc, insecure: true}", j.OTLPGRPCAddr()),
		"b": fmt.Sprintf("{endpoint: %q, protocol: http, insecure: true}", j.OTLPHTTPAddr()),
		"c": fmt.Sprintf("{endpoint: %q, protocol: http}", "http://"+j.OTLPHTTPAddr()+"/v1/traces"),
	}
	m := meshtest.New(t)
	ch := startChain(t, m, func(service string) mesh.Config {
		return mesh.Config{PolicyFile: writePolicy(t, chainPolicy+"telemetry:\n  tracing: {sampleRatio: 1, otlp: "+policies[service]+"}\n")}
	})
	for _, n := range []*mesh.Node{ch.a, ch.b, ch.c} {
		if st := n.Status().Telemetry; st == nil || !st.Tracing {
			t.Fatalf("%s: tracing is off: %+v", n.Service(), st)
		}
	}
	ch.call(t, context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// a's call is answered at the first attempt: one client span. b's is
	// retried: its first attempt goes under the call's span, its second
	// has a span of its own.
	tr, err := j.AwaitTrace(ctx, "a", func(tr *jaegertest.Trace) bool { return len(tr.Spans) >= 6 })
	if err != nil {
		t.Fatalf("%v\n--- jaeger log ---\n%s", err, j.Log())
	}
	if len(tr.Spans) != 6 {
		t.Fatalf("trace %s has %d spans, want 6", tr.TraceID, len(tr.Spans))
	}
	type key struct{ service, op, kind string }
	spans := map[key][]jaegertest.Span{}
	for _, s := range tr.Spans {
		kind, _ := s.Tag("span.kind")
		k := key{tr.Service(s), s.OperationName, fmt.Sprint(kind)}
		spans[k] = append(spans[k], s)
	}
	get := func(service, op, kind string, n int) []jaegertest.Span {
		t.Helper()
		got := spans[key{service, op, kind}]
		if len(got) != n {
			t.Fatalf("%d %s spans %q in %s, want %d; trace: %v", len(got), kind, op, service, n, spans)
		}
		return got
	}
	aCall := get("a", "GET b", "client", 1)[0]
	bServer := get("b", "GET b", "server", 1)[0]
	bCall := get("b", "GET c", "client", 1)[0]
	bRetry := get("b", "GET c attempt", "client", 1)[0]
	cServers := get("c", "GET c", "server", 2)

	parent := func(child, parent jaegertest.Span, what string) {
		t.Helper()
		if child.Parent() != parent.SpanID {
			t.Errorf("%s: parent %s, want %s", what, child.Parent(), parent.SpanID)
		}
	}
	if aCall.Parent() != "" {
		t.Errorf("a's call has parent %s; it should start the trace", aCall.Parent())
	}
	parent(bServer, aCall, "b's server span")
	parent(bCall, bServer, "b's call to c")
	parent(bRetry, bCall, "b's retry")
	if n, _ := bRetry.Tag("weft.attempt"); fmt.Sprint(n) != "2" {
		t.Errorf("b's retry is attempt %v, want 2", n)
	}
	// What became of b's first attempt is an event (a log) on its call.
	if len(bCall.Logs) != 1 {
		t.Errorf("b's call has %d logs, want its first attempt's: %+v", len(bCall.Logs), bCall.Logs)
	} else if ev, _ := bCall.Logs[0].Field("event"); ev != "weft.attempt" {
		t.Errorf("b's call logs %+v, want the event weft.attempt", bCall.Logs)
	} else if outcome, _ := bCall.Logs[0].Field("weft.outcome"); outcome != "error" {
		t.Errorf("b's first attempt: outcome %v, want error", outcome)
	}
	// c answered the first attempt, sent under b's call span, 503 and the
	// retry 200.
	byParent := map[string]float64{}
	for _, s := range cServers {
		code, _ := s.Tag("http.response.status_code")
		byParent[s.Parent()] = code.(float64)
	}
	if byParent[bCall.SpanID] != 503 || byParent[bRetry.SpanID] != 200 {
		t.Errorf("c's server spans answered %v by parent; want 503 under b's call %s and 200 under the retry %s", byParent, bCall.SpanID, bRetry.SpanID)
	}
	// Each service is a process of its own, named as in the mesh.
	seen := map[string]bool{}
	for _, p := range tr.Processes {
		seen[p.ServiceName] = true
	}
	if len(seen) != 3 || !seen["a"] || !seen["b"] || !seen["c"] {
		t.Errorf("processes %v, want a, b and c", tr.Processes)
	}
}
