package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/weftmesh/weft/telemetry"
)

// rig is a Telemetry whose spans, metrics and logs the test can read.
type rig struct {
	tel    *telemetry.Telemetry
	spans  *tracetest.InMemoryExporter // nil without tracing
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
}

// newRig builds a Telemetry for service "b" with the application's
// providers: every span recorded when tracing, metrics read on demand,
// JSON logs in a buffer.
func newRig(t *testing.T, cfg telemetry.Config, tracing bool) *rig {
	t.Helper()
	r := &rig{reader: sdkmetric.NewManualReader(), logs: &syncBuffer{}}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	opts := telemetry.Options{
		Service:       "b",
		MeterProvider: mp,
		Logger:        slog.New(slog.NewJSONHandler(r.logs, nil)),
	}
	if tracing {
		r.spans = tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		opts.TracerProvider = tp
	}
	tel, err := telemetry.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	r.tel = tel
	return r
}

// metrics collects the metrics recorded so far, by name.
func (r *rig) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// labels renders an attribute set as "k=v,k=v", sorted.
func labels(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, ",")
}

// sums returns an int64 sum's points by label set.
func sums(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int64 sum", m.Name, m.Data)
	}
	out := make(map[string]int64)
	for _, p := range s.DataPoints {
		out[labels(p.Attributes)] = p.Value
	}
	return out
}

// histCounts returns a histogram's counts by label set.
func histCounts(t *testing.T, m metricdata.Metrics) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, not a float64 histogram", m.Name, m.Data)
	}
	out := make(map[string]uint64)
	for _, p := range h.DataPoints {
		out[labels(p.Attributes)] = p.Count
	}
	return out
}

// logLines parses the JSON log lines written so far.
func (r *rig) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
