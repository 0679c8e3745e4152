package telemetry_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/telemetry"
)

func ratio(r float64) *float64 { return &r }

func TestConfigValidate(t *testing.T) {
	otlp := func(endpoint, proto string) *telemetry.OTLPConfig {
		return &telemetry.OTLPConfig{Endpoint: endpoint, Protocol: proto}
	}
	tests := []struct {
		name string
		cfg  telemetry.Config
		want []string // "key: message fragment", in order
	}{
		{"zero", telemetry.Config{}, nil},
		{"full", telemetry.Config{
			Tracing:   telemetry.TracingConfig{SampleRatio: ratio(0), OTLP: otlp("127.0.0.1:4317", "grpc")},
			Metrics:   telemetry.MetricsConfig{OTLP: otlp("https://otel.example.com/v1/metrics", "http"), Interval: time.Second},
			AccessLog: true,
		}, nil},
		{"ratio out of range", telemetry.Config{Tracing: telemetry.TracingConfig{SampleRatio: ratio(1.01)}},
			[]string{"tracing.sampleRatio: must be between 0 and 1"}},
		{"ratio NaN", telemetry.Config{Tracing: telemetry.TracingConfig{SampleRatio: ratio(math.NaN())}},
			[]string{"tracing.sampleRatio: must be between 0 and 1"}},
		{"endpoint missing", telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: otlp("", "")}},
			[]string{"tracing.otlp.endpoint: missing"}},
		{"endpoint without port", telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: otlp("collector", "")}},
			[]string{`tracing.otlp.endpoint: "collector" is not host:port`}},
		{"endpoint bad port", telemetry.Config{Metrics: telemetry.MetricsConfig{OTLP: otlp("collector:0", "")}},
			[]string{`metrics.otlp.endpoint: "collector:0" has no valid port`}},
		{"endpoint URL without host", telemetry.Config{Metrics: telemetry.MetricsConfig{OTLP: otlp("https:///v1", "")}},
			[]string{`metrics.otlp.endpoint: the URL "https:///v1" has no host`}},
		{"protocol", telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: otlp("a:1", "http/json")}},
			[]string{`tracing.otlp.protocol: unknown protocol "http/json"`}},
		{"headers and timeout", telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{
			Endpoint: "a:1", Headers: map[string]string{"x y": "1"}, Timeout: -time.Second}}},
			[]string{`tracing.otlp.headers: "x y" is not a valid header name`, "tracing.otlp.timeout: must not be negative"}},
		{"interval", telemetry.Config{Metrics: telemetry.MetricsConfig{Interval: time.Millisecond}},
			[]string{"metrics.interval: must be at least 1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var list fielderr.List
			if !errors.As(err, &list) || len(list) != len(tt.want) {
				t.Fatalf("Validate = %v, want %d problems", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(list[i].Error(), w) {
					t.Errorf("problem %d = %q, want prefix %q", i, list[i].Error(), w)
				}
			}
		})
	}
}

// FuzzEndpoint checks that any endpoint string is either accepted as
// something an exporter can dial or rejected with a message, never a
// panic.
func FuzzEndpoint(f *testing.F) {
	for _, s := range []string{"127.0.0.1:4317", "collector:4318", "http://c:4318/v1/traces", "https://[::1]:443", "", ":", "a:b", "http://", "[::1]:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		cfg := telemetry.Config{Tracing: telemetry.TracingConfig{OTLP: &telemetry.OTLPConfig{Endpoint: endpoint}}}
		err := cfg.Validate()
		if err == nil && endpoint == "" {
			t.Fatal("empty endpoint accepted")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "tracing.otlp.endpoint: ") {
			t.Fatalf("unexpected problem: %v", err)
		}
	})
}
