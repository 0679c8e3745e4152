package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTelemetrySection(t *testing.T) {
	p := mustParse(t, "mesh.yaml", `version: 1
telemetry:
  tracing:
    sampleRatio: 0
    otlp: {endpoint: "https://otel.example.com/v1/traces", protocol: http, headers: {x-tenant: shop}, timeout: 5s}
  metrics: {otlp: {endpoint: 127.0.0.1:4317, insecure: true}, interval: 15s}
  accessLog: true
`)
	tel := p.Telemetry
	if r := tel.Tracing.SampleRatio; r == nil || *r != 0 {
		t.Errorf("sampleRatio = %v, want an explicit 0", r)
	}
	o := tel.Tracing.OTLP
	if o == nil || o.Endpoint != "https://otel.example.com/v1/traces" || o.Protocol != "http" || o.Headers["x-tenant"] != "shop" || o.Timeout != 5*time.Second {
		t.Errorf("tracing.otlp = %+v", o)
	}
	if m := tel.Metrics; m.OTLP == nil || !m.OTLP.Insecure || m.Interval != 15*time.Second {
		t.Errorf("metrics = %+v", m)
	}
	if !tel.AccessLog {
		t.Error("accessLog not decoded")
	}

	none := mustParse(t, "mesh.yaml", "version: 1\ntelemetry: {tracing: {}}\n")
	if none.Telemetry.Tracing.SampleRatio != nil || none.Telemetry.Tracing.OTLP != nil {
		t.Errorf("absent keys decoded as %+v", none.Telemetry.Tracing)
	}
}

func TestTelemetryReload(t *testing.T) {
	base := "version: 1\ntelemetry:\n  tracing: {sampleRatio: 0.1, otlp: {endpoint: 127.0.0.1:4317}}\n  accessLog: false\n"
	old := mustParse(t, "old.yaml", base)
	tests := []struct {
		name, src string
		want      []string
	}{
		{"sample ratio and access log apply live",
			strings.NewReplacer("sampleRatio: 0.1", "sampleRatio: 0.5", "accessLog: false", "accessLog: true").Replace(base), nil},
		{"sample ratio removed applies live", strings.Replace(base, "sampleRatio: 0.1, ", "", 1), nil},
		{"exporter endpoint", strings.Replace(base, "4317", "4318", 1),
			[]string{"new.yaml:3:37: telemetry.tracing.otlp: changed, which requires a restart"}},
		{"tracing turned off", "version: 1\ntelemetry: {accessLog: false}\n",
			[]string{"new.yaml:2:12: telemetry.tracing.otlp: changed, which requires a restart"}},
		{"metrics push added", base + "  metrics: {otlp: {endpoint: 127.0.0.1:4317}}\n",
			[]string{"new.yaml:5:12: telemetry.metrics: changed, which requires a restart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckReload(old, mustParse(t, "new.yaml", tt.src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckReload = %v, want nil", err)
				}
				return
			}
			var errs ErrorList
			if !errors.As(err, &errs) || len(errs) != len(tt.want) {
				t.Fatalf("CheckReload = %v, want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}
