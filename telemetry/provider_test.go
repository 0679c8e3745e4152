package telemetry_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport/observe"
)

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newTelemetry(t *testing.T, cfg telemetry.Config, opts telemetry.Options) (*telemetry.Telemetry, error) {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "b"
	}
	tel, err := telemetry.New(context.Background(), cfg, opts)
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tel.Shutdown(ctx)
		})
	}
	return tel, err
}

// TestEnvironment checks how the OTEL_* variables decide tracing when the
// policy is silent, and that the policy wins when it is not.
func TestEnvironment(t *testing.T) {
	refused := refusedAddr(t)
	tests := []struct {
		name    string
		env     map[string]string
		cfg     telemetry.Config
		tracing bool
		want    string // in TraceExporter + " " + Sampler, or in the error
		wantErr bool
	}{
		{"nothing set", nil, telemetry.Config{}, false, "", false},
		{"endpoint from the environment", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + refused},
			telemetry.Config{}, true, "otlp grpc (from $OTEL_EXPORTER_OTLP_*) ParentBased{root:AlwaysOnSampler", false},
		{"traces endpoint and protocol", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://" + refused + "/v1/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			telemetry.Config{}, true, "otlp http (from", false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + refused, "OTEL_TRACES_EXPORTER": "none"},
			telemetry.Config{}, false, "", false},
		{"sdk disabled beats the policy", map[string]string{"OTEL_SDK_DISABLED": "true"},
			telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{Endpoint: refused}}}, false, "", false},
		{"sampler from the environment", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{Endpoint: refused, Insecure: true}}}, true, "otlp grpc " + refused + " ParentBased{root:TraceIDRatioBased{0.25}", false},
		{"policy ratio beats the environment", map[string]string{"OTEL_TRACES_SAMPLER": "always_off"},
			telemetry.Config{Tracing: telemetry.TracingConfig{SampleRatio: ratio(0.5), OTLP: &telemetry.OTLPConfig{Endpoint: refused, Protocol: "http"}}}, true, "otlp http " + refused + " ParentBased{root:TraceIDRatioBased{0.5}", false},
		{"unknown sampler", map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"},
			telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{Endpoint: refused}}}, false, "$OTEL_TRACES_SAMPLER=jaeger_remote is not supported", true},
		{"bad sampler argument", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
			telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{Endpoint: refused}}}, false, `$OTEL_TRACES_SAMPLER_ARG="half"`, true},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, telemetry.Config{}, false, "$OTEL_TRACES_EXPORTER=zipkin is not supported", true},
		{"unknown protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + refused, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			telemetry.Config{}, false, `protocol "http/json" from the environment is not supported`, true},
		{"unknown propagator", map[string]string{"OTEL_PROPAGATORS": "tracecontext,b3"}, telemetry.Config{}, false, `$OTEL_PROPAGATORS names "b3"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTELEnv(t)
			t.Setenv("OTEL_METRICS_EXPORTER", "none")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tel, err := newTelemetry(t, tt.cfg, telemetry.Options{})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("New = %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := tel.Status()
			if st.Tracing != tt.tracing || tel.Tracing() != tt.tracing {
				t.Fatalf("tracing = %v, want %v (%+v)", st.Tracing, tt.tracing, st)
			}
			if got := st.TraceExporter + " " + st.Sampler; !strings.Contains(got, tt.want) {
				t.Errorf("exporter and sampler %q, want %q", got, tt.want)
			}
		})
	}
}

// collector is an OTLP/HTTP endpoint that accepts everything and keeps
// what it was sent.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
	headers  http.Header
}

func newCollector(t *testing.T) *collector {
	c := &collector{requests: make(map[string]int)}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.requests[r.URL.Path]++
		c.headers = r.Header.Clone()
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[path]
}

// TestOwnProviders exports spans and pushes metrics over OTLP/HTTP with
// the policy's headers, changes the sample ratio live and flushes on
// Shutdown.
func TestOwnProviders(t *testing.T) {
	clearOTELEnv(t)
	col := newCollector(t)
	endpoint := strings.TrimPrefix(col.URL, "http://")
	otlp := &telemetry.OTLPConfig{Endpoint: endpoint, Protocol: "http", Insecure: true, Headers: map[string]string{"x-tenant": "shop"}}
	cfg := telemetry.Config{
		Tracing: telemetry.TracingConfig{SampleRatio: ratio(0), OTLP: otlp},
		Metrics: telemetry.MetricsConfig{OTLP: otlp, Interval: time.Hour},
	}
	tel, err := telemetry.New(context.Background(), cfg, telemetry.Options{Service: "b", Version: "v2", Instance: "b-1", Mesh: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	st := tel.Status()
	if !st.Tracing || st.MetricsExporter != "otlp http "+endpoint || st.Prometheus {
		t.Errorf("status %+v", st)
	}
	c := &observe.CallInfo{Protocol: "http", Source: "b", Destination: "c", Method: "GET"}
	if ctx := tel.StartCall(context.Background(), c); trace.SpanFromContext(ctx).IsRecording() {
		t.Error("a root span was recorded at sample ratio 0")
	}
	if err := tel.Update(telemetry.Config{Tracing: telemetry.TracingConfig{SampleRatio: ratio(1)}}); err != nil {
		t.Fatal(err)
	}
	if s := tel.Status().Sampler; !strings.Contains(s, "TraceIDRatioBased{1}") {
		t.Errorf("sampler after Update: %s", s)
	}
	ctx := tel.StartCall(context.Background(), c)
	if !trace.SpanFromContext(ctx).IsRecording() {
		t.Fatal("no span recorded at sample ratio 1")
	}
	c.Status, c.End = 200, time.Now()
	tel.EndCall(ctx, c)

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if col.count("/v1/traces") == 0 || col.count("/v1/metrics") == 0 {
		t.Errorf("collector got %v, want spans and metrics flushed by Shutdown", col.requests)
	}
	if h := col.headers.Get("X-Tenant"); h != "shop" {
		t.Errorf("x-tenant header = %q", h)
	}
	if err := tel.Shutdown(sctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}

func TestPrometheus(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	tel, err := newTelemetry(t, telemetry.Config{}, telemetry.Options{Scrape: true, NodeStats: func() telemetry.NodeStats {
		return telemetry.NodeStats{
			Members:      map[string]int{"alive": 3, "suspect": 1},
			PolicyHash:   "abc",
			SVIDExpiry:   time.Now().Add(time.Hour),
			Destinations: []telemetry.DestinationStats{{Service: "c", Ready: 2, NotReady: 1, Ejected: 1}},
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Observes() || tel.Tracing() {
		t.Fatalf("observes %v, tracing %v", tel.Observes(), tel.Tracing())
	}
	callB(context.Background(), tel)
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`weft_client_requests_total{destination="b",protocol="http",response_class="2xx",route="reads",source="a"} 1`,
		`weft_client_request_duration_seconds_bucket{destination="b",protocol="http",response_class="2xx",route="reads",source="a",le="0.05"} 1`,
		`weft_client_retries_total{destination="b",route="reads"} 1`,
		`weft_mesh_members{status="suspect"} 1`,
		`weft_client_endpoints{destination="c",state="ready"} 2`,
		`weft_client_endpoints_ejected{destination="c"} 1`,
		`weft_policy_info{sha256="abc"} 1`,
		`weft_svid_time_to_expiry_seconds 3`,
		"go_goroutines",
		`target_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Error("/metrics has a per-address label")
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestNothingToObserve(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	tel, err := newTelemetry(t, telemetry.Config{}, telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Observes() {
		t.Error("a telemetry with no reader, no tracing and no access log observes")
	}
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics without a registry = %d", rec.Code)
	}
	tel.Update(telemetry.Config{AccessLog: true})
	if !tel.Observes() {
		t.Error("turning the access log on does not make it observe")
	}
}

func TestPropagatorFromEnvironment(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_PROPAGATORS", "tracecontext")
	r := newRig(t, telemetry.Config{}, true)
	bag, _ := baggage.New(mustMember(t, "tenant", "acme"))
	_, headers := callB(baggage.ContextWithBaggage(context.Background(), bag), r.tel)
	if headers[0].Get("Traceparent") == "" || headers[0].Get("Baggage") != "" {
		t.Errorf("with OTEL_PROPAGATORS=tracecontext the attempt sent %v", headers[0])
	}
}
