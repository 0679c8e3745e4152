package mesh_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// BenchmarkTelemetry measures one GET through a Weft client and server
// (both nodes observed alike) as telemetry is added:
//
//	none           no admin endpoint, no tracing: nothing observes requests
//	metrics        admin endpoint: Prometheus metrics and the routing history
//	sampled-0%     metrics, and tracing with every trace sampled out
//	sampled-1%     metrics, and 1% of traces sampled
//	sampled-100%   metrics, and every trace sampled
//
// Spans go through the SDK's batch processor to an exporter that drops
// them, so the numbers are Weft's and the SDK's cost without the OTLP
// encoding, which happens off the request path.
func BenchmarkTelemetry(b *testing.B) {
	for _, tc := range []struct {
		name   string
		admin  bool
		tracer bool
		ratio  float64
	}{
		{"none", false, false, 0},
		{"metrics", true, false, 0},
		{"sampled-0%", true, true, 0},
		{"sampled-1%", true, true, 0.01},
		{"sampled-100%", true, true, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := meshtest.New(b)
			cfg := func(service string) mesh.Config {
				c := mesh.Config{Service: service}
				if tc.admin {
					c.AdminAddr = "127.0.0.1:0"
				}
				if tc.tracer {
					c.TracerProvider = ratioTracer(b, tc.ratio)
				}
				return c
			}
			m.Serve(cfg("echo"), okHandler)
			client := m.Start(cfg("client"))
			meshtest.WaitEndpoints(b, client, "echo", 1)
			c := client.NewClient("echo")
			b.ReportAllocs()
			for b.Loop() {
				mustGet(b, c, "http://echo/")
			}
		})
	}
}

// ratioTracer returns a tracer provider whose parent-based sampler records
// ratio of the traces, exporting to nothing.
func ratioTracer(tb testing.TB, ratio float64) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(tracetest.NewNoopExporter()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	tb.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}
