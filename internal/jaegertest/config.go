package jaegertest

import (
	"fmt"
	"os"
	"path/filepath"
)

// ports are the loopback ports one Jaeger listens on.
type ports struct {
	otlpGRPC, otlpHTTP, queryHTTP, queryGRPC, health int
}

// configTemplate is Jaeger's configuration: only what the tests use, all
// on loopback. The collector's own metrics are off (by default they
// listen on every interface), Jaeger does not trace itself (no "jaeger"
// service among the test's), and the batch processor flushes within
// 100 ms so that a trace is queryable soon after it is exported.
const configTemplate = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%[5]d
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:%[3]d
    grpc:
      endpoint: 127.0.0.1:%[4]d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%[1]d
      http:
        endpoint: 127.0.0.1:%[2]d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// writeConfig writes the configuration for p into dir and returns its
// path.
func writeConfig(dir string, p ports) (string, error) {
	path := filepath.Join(dir, "jaeger.yaml")
	body := fmt.Sprintf(configTemplate, p.otlpGRPC, p.otlpHTTP, p.queryHTTP, p.queryGRPC, p.health)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("jaegertest: write config: %w", err)
	}
	return path, nil
}
