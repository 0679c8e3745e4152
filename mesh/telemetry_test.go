package mesh_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// scrape reads the admin endpoint's /metrics into series → value, the
// series written as in the text format: name{labels}.
func scrape(t *testing.T, n *mesh.Node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics: %s, %s", resp.Status, ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsEndpoint sends a known pattern of requests and checks the
// counts both sides report on /metrics.
func TestMetricsEndpoint(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
services:
  echo:
    routes: [{name: api, match: {pathPrefix: /api/}}]
`)
	srv := m.Serve(mesh.Config{Service: "echo", AdminAddr: "127.0.0.1:0"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	client := m.Start(mesh.Config{Service: "client", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitEndpoints(t, client, "echo", 1)
	c := client.NewClient("echo")
	for _, path := range []string{"/api/a", "/api/b", "/api/c", "/", "/", "/missing", "/missing"} {
		resp, err := c.Get("http://echo" + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	const common = `destination="echo",protocol="http"`
	got := scrape(t, client)
	want := map[string]float64{
		`weft_client_requests_total{` + common + `,response_class="2xx",route="api",source="client"}`:                            3,
		`weft_client_requests_total{` + common + `,response_class="2xx",route="",source="client"}`:                               2,
		`weft_client_requests_total{` + common + `,response_class="4xx",route="",source="client"}`:                               2,
		`weft_client_request_duration_seconds_count{` + common + `,response_class="2xx",route="api",source="client"}`:            3,
		`weft_client_request_duration_seconds_bucket{` + common + `,response_class="2xx",route="api",source="client",le="+Inf"}`: 3,
		`weft_client_active_requests{` + common + `,route="api",source="client"}`:                                                0,
		`weft_client_endpoints{destination="echo",state="ready"}`:                                                                1,
		`weft_client_endpoints{destination="echo",state="not_ready"}`:                                                            0,
		`weft_client_breakers_open{destination="echo"}`:                                                                          0,
		`weft_mesh_members{status="alive"}`:                                                                                      2,
		`weft_policy_reloads_total{result="rejected"}`:                                                                           0,
		`weft_gossip_dropped_packets_total`:                                                                                      0,
	}
	for series, v := range want {
		if got[series] != v {
			t.Errorf("client %s = %v, want %v", series, got[series], v)
		}
	}
	if _, ok := got[`weft_client_retries_total{destination="echo",route=""}`]; ok {
		t.Error("retries counted where none happened")
	}
	for series := range got {
		if strings.Contains(series, srv.Addr) {
			t.Errorf("series with an address label: %s", series)
		}
	}

	// The server records a request when its handler returns, which may be
	// after the client read the answer.
	meshtest.WaitFor(t, 5*time.Second, "server counts", func() bool {
		got = scrape(t, srv.Node)
		return got[`weft_server_requests_total{`+common+`,response_class="2xx",source="client"}`] == 5
	})
	if v := got[`weft_server_requests_total{`+common+`,response_class="4xx",source="client"}`]; v != 2 {
		t.Errorf("server 4xx = %v, want 2", v)
	}
	if v := got[`weft_server_request_duration_seconds_count{`+common+`,response_class="2xx",source="client"}`]; v != 5 {
		t.Errorf("server duration count = %v, want 5", v)
	}
	if v := got[`weft_server_authorization_denials_total{destination="echo",mode="enforce"}`]; v != 0 {
		t.Errorf("denials = %v", v)
	}
}

// logBuffer collects a node's JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// access returns the access log lines written so far.
func (l *logBuffer) access(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "weft: access" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog turns the access log on and off by editing the policy and
// checks the lines each side writes.
func TestAccessLog(t *testing.T) {
	m := meshtest.New(t)
	policy := writePolicy(t, "version: 1\ntelemetry: {accessLog: true}\n")
	m.PolicyFile = policy
	exp := tracetest.NewInMemoryExporter()
	var logs [2]logBuffer
	start := func(i int, service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
		t.Cleanup(func() { tp.Shutdown(t.Context()) })
		return mesh.Config{Service: service, TracerProvider: tp, Logger: slog.New(slog.NewJSONHandler(&logs[i], nil))}
	}
	srv := m.Serve(start(0, "echo"), okHandler)
	client := m.Start(start(1, "client"))
	meshtest.WaitEndpoints(t, client, "echo", 1)
	if _, err := get(client.NewClient("echo"), "http://echo/items?id=1"); err != nil {
		t.Fatal(err)
	}
	var in, out []map[string]any
	meshtest.WaitFor(t, 5*time.Second, "one line each side", func() bool {
		in, out = logs[0].access(t), logs[1].access(t)
		return len(in) == 1 && len(out) == 1
	})
	o, i := out[0], in[0]
	traceID, _ := o["trace_id"].(string)
	if ok, _ := regexp.MatchString("^[0-9a-f]{32}$", traceID); !ok || i["trace_id"] != traceID {
		t.Errorf("trace IDs: outbound %v, inbound %v, want the same one", o["trace_id"], i["trace_id"])
	}
	for k, v := range map[string]any{"direction": "outbound", "source": "client", "destination": "echo", "method": "GET", "path": "/items",
		"status": 200.0, "attempts": 1.0, "endpoint": srv.Addr, "service": "client", "peer": ""} {
		if o[k] != v {
			t.Errorf("outbound %s = %v, want %v", k, o[k], v)
		}
	}
	for k, v := range map[string]any{"direction": "inbound", "source": "client", "destination": "echo", "method": "GET", "path": "/items", "status": 200.0, "service": "echo"} {
		if i[k] != v {
			t.Errorf("inbound %s = %v, want %v", k, i[k], v)
		}
	}
	if d, ok := o["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("outbound duration_ms = %v", o["duration_ms"])
	}

	// Off by a policy edit: applied live, no new line.
	replacePolicy(t, policy, "version: 1\ntelemetry: {accessLog: false}\n")
	meshtest.WaitFor(t, 5*time.Second, "reload applied", func() bool {
		return client.Status().Policy.Applied == 1 && srv.Status().Policy.Applied == 1
	})
	if _, err := get(client.NewClient("echo"), "http://echo/"); err != nil {
		t.Fatal(err)
	}
	if n := len(logs[1].access(t)); n != 1 {
		t.Errorf("%d outbound lines after the access log was turned off, want 1", n)
	}
	// An exporter change needs a restart: refused, named, and the policy
	// in force is kept.
	replacePolicy(t, policy, "version: 1\ntelemetry: {tracing: {otlp: {endpoint: 127.0.0.1:4317}}}\n")
	meshtest.WaitFor(t, 5*time.Second, "reload rejected", func() bool { return client.Status().Policy.Rejected == 1 })
	if st := client.Status().Policy; !strings.Contains(st.LastError, "telemetry.tracing.otlp: changed, which requires a restart") {
		t.Errorf("last reload error %q", st.LastError)
	}
}

// TestAdminStatus checks the admin endpoint's JSON and HTML on a running
// mesh: endpoints with balancer state, routing decisions, the effective
// policy and the telemetry settings.
func TestAdminStatus(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: shop, gossipKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
defaults: {timeout: 3s}
telemetry:
  tracing: {sampleRatio: 0, otlp: {endpoint: "127.0.0.1:1", headers: {authorization: secret-token}}}
services:
  echo:
    loadBalancer: peak_ewma
    circuitBreaker: {consecutiveFailures: 5}
    subsets: {v2: {version: v2}}
    routes: [{name: canary, match: {headers: {x-canary: "1"}}, to: {v2: 100}}]
`)
	srv := m.Serve(mesh.Config{Service: "echo", Version: "v2"}, okHandler)
	client := m.Start(mesh.Config{Service: "client", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitEndpoints(t, client, "echo", 1)
	req, _ := http.NewRequest("GET", "http://echo/pay", nil)
	req.Header.Set("x-canary", "1")
	resp, err := client.NewClient("echo").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	base := "http://" + client.AdminAddr() + "/debug/weft"
	fetch := func(url, accept string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s: %s", url, resp.Status, b)
		}
		return resp.Header.Get("Content-Type"), string(b)
	}

	ct, body := fetch(base, "")
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || ct != "application/json" {
		t.Fatalf("JSON status (%s): %v", ct, err)
	}
	var echo *admin.DestinationStatus
	for i := range st.Destinations {
		if st.Destinations[i].Service == "echo" {
			echo = &st.Destinations[i]
		}
	}
	if st.Mesh != "shop" || echo == nil || echo.LoadBalancer != "peak_ewma" || !echo.Breakers || len(echo.Endpoints) != 1 {
		t.Fatalf("status: mesh %q, echo %+v", st.Mesh, echo)
	}
	ep := echo.Endpoints[0]
	if ep.Addr != srv.Addr || ep.Version != "v2" || ep.Breaker != "closed" || ep.Weight != 1 || ep.LatencyMs <= 0 || len(ep.Subsets) != 1 {
		t.Errorf("endpoint %+v", ep)
	}
	if len(st.Decisions) != 1 || st.Decisions[0].Route != "canary" || st.Decisions[0].Subset != "v2" || st.Decisions[0].Endpoint != srv.Addr || st.Decisions[0].Outcome != "ok" {
		t.Errorf("decisions %+v", st.Decisions)
	}
	eff := st.Policy.Effective
	services, _ := eff["services"].(map[string]any)
	echoPol, _ := services["echo"].(map[string]any)
	retries, _ := echoPol["retries"].(map[string]any)
	if echoPol["timeout"] != "3s" || echoPol["loadBalancer"] != "peak_ewma" || retries["attempts"] != 2.0 {
		t.Errorf("effective echo policy %v", echoPol)
	}
	if strings.Contains(body, "secret-token") || strings.Contains(body, "MDEyMzQ1") {
		t.Error("the status shows a secret")
	}
	if mp, _ := eff["mesh"].(map[string]any); mp["gossipEncrypted"] != true {
		t.Errorf("effective mesh %v", eff["mesh"])
	}
	if tel := st.Telemetry; tel == nil || !tel.Tracing || tel.TraceExporter != "otlp grpc 127.0.0.1:1" || !tel.Prometheus {
		t.Errorf("telemetry %+v", st.Telemetry)
	}

	for _, tc := range []struct{ url, accept string }{
		{base + "?format=html", ""},
		{base, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	} {
		ct, page := fetch(tc.url, tc.accept)
		if ct != "text/html; charset=utf-8" {
			t.Errorf("%s with Accept %q: %s", tc.url, tc.accept, ct)
		}
		for _, want := range []string{"<h2>Members (2)</h2>", srv.Addr, "peak_ewma", "canary", "Recent routing decisions", "loadBalancer: peak_ewma", "<td>closed</td>"} {
			if !strings.Contains(page, want) {
				t.Errorf("HTML page lacks %q", want)
			}
		}
		if strings.Contains(page, "secret-token") {
			t.Error("the HTML page shows a secret")
		}
	}
	if ct, _ := fetch(base+"?format=json", "text/html"); ct != "application/json" {
		t.Errorf("?format=json answered %s", ct)
	}
	if ct, _ := fetch(base, "application/json"); ct != "application/json" {
		t.Errorf("Accept: application/json answered %s", ct)
	}
}

// TestObservedPeerIsTheVerifiedCaller checks that over mutual TLS the
// server's span and access log name the caller by the SPIFFE ID the
// server verified, for HTTP and gRPC, and the client's access log the
// server's.
func TestObservedPeerIsTheVerifiedCaller(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir(t), "telemetry: {accessLog: true}\n")
	exp := tracetest.NewInMemoryExporter()
	var logs [3]logBuffer
	config := func(i int, service string) mesh.Config {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		t.Cleanup(func() { tp.Shutdown(t.Context()) })
		return mesh.Config{Service: service, TracerProvider: tp, Logger: slog.New(slog.NewJSONHandler(&logs[i], nil))}
	}
	m.Serve(config(0, "echo"), okHandler)
	serveGRPC(t, m, config(1, "payments"), &payments{name: "p1", calls: &counter{}})
	client := m.Start(config(2, "checkout"))
	meshtest.WaitEndpoints(t, client, "echo", 1)
	waitGRPCEndpoints(t, client, "payments", 1)
	if _, err := get(client.NewClient("echo"), "http://echo/"); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, client, "payments").Charge(t.Context(), &shoppb.ChargeRequest{OrderId: "o1"}); err != nil {
		t.Fatal(err)
	}

	const caller = "spiffe://" + meshtest.TrustDomain + "/svc/checkout"
	var servers []tracetest.SpanStub
	meshtest.WaitFor(t, 5*time.Second, "both server spans", func() bool {
		servers = servers[:0]
		for _, s := range exp.GetSpans() {
			if s.SpanKind == trace.SpanKindServer {
				servers = append(servers, s)
			}
		}
		return len(servers) == 2
	})
	for _, s := range servers {
		if got := attrOf(s, "weft.peer.id"); got != caller {
			t.Errorf("server span %q: weft.peer.id = %v, want %s", s.Name, got, caller)
		}
	}
	for i, service := range []string{"echo", "payments"} {
		var in []map[string]any
		meshtest.WaitFor(t, 5*time.Second, service+"'s access log line", func() bool {
			in = logs[i].access(t)
			return len(in) == 1
		})
		if in[0]["peer"] != caller || in[0]["source"] != "checkout" {
			t.Errorf("%s's inbound line: peer %v, source %v; want %s, checkout", service, in[0]["peer"], in[0]["source"], caller)
		}
	}
	out := logs[2].access(t)
	if len(out) != 2 || out[0]["peer"] != "spiffe://"+meshtest.TrustDomain+"/svc/echo" {
		t.Errorf("checkout's outbound lines %v, want the first naming echo's identity", out)
	}
}
