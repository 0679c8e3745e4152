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
	tr, err := j.AwaitTrace(ctx, "a", func(tr *jaegertest.Trace) bool { return len(tr.Spans) >= 8 })
	if err != nil {
		t.Fatalf("%v\n--- jaeger log ---\n%s", err, j.Log())
	}
	if len(tr.Spans) != 8 {
		t.Fatalf("trace %s has %d spans, want 8", tr.TraceID, len(tr.Spans))
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
	aTry := get("a", "GET b attempt", "client", 1)[0]
	bServer := get("b", "GET b", "server", 1)[0]
	bCall := get("b", "GET c", "client", 1)[0]
	bTries := get("b", "GET c attempt", "client", 2)
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
	parent(aTry, aCall, "a's attempt")
	parent(bServer, aTry, "b's server span")
	parent(bCall, bServer, "b's call to c")
	status := map[string]float64{}
	for _, try := range bTries {
		parent(try, bCall, "b's attempt")
		code, _ := try.Tag("http.response.status_code")
		n, _ := try.Tag("weft.attempt")
		status[fmt.Sprint(n)] = code.(float64)
	}
	if status["1"] != 503 || status["2"] != 200 {
		t.Errorf("b's attempts answered %v, want 1:503 and 2:200", status)
	}
	byParent := map[string]float64{}
	for _, s := range cServers {
		code, _ := s.Tag("http.response.status_code")
		byParent[s.Parent()] = code.(float64)
	}
	for _, try := range bTries {
		n, _ := try.Tag("weft.attempt")
		want := map[string]float64{"1": 503, "2": 200}[fmt.Sprint(n)]
		if byParent[try.SpanID] != want {
			t.Errorf("c's server span under attempt %v answered %v, want %v", n, byParent[try.SpanID], want)
		}
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
