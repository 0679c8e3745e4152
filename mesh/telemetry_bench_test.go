package mesh_test

import (
	"context"
	"io"
	"net/http"
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
//	metrics        admin endpoint: Prometheus metrics, the routing history,
//	               the dashboard's per-edge counts, the tap (nobody watching)
//	tap-watched    metrics, and a tap stream open on both nodes that
//	               matches every request (rate-limited: most are dropped)
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
		{"tap-watched", true, false, 0},
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
			srv := m.Serve(cfg("echo"), okHandler)
			client := m.Start(cfg("client"))
			meshtest.WaitEndpoints(b, client, "echo", 1)
			if tc.name == "tap-watched" {
				watchTap(b, client.AdminAddr())
				watchTap(b, srv.AdminAddr())
			}
			c := client.NewClient("echo")
			b.ReportAllocs()
			for b.Loop() {
				mustGet(b, c, "http://echo/")
			}
		})
	}
}

// watchTap opens a tap stream on the admin endpoint at addr, reading it
// until the benchmark ends.
func watchTap(b *testing.B, addr string) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/weft/tap?rate=500", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, resp.Body)
	}()
	b.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
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
