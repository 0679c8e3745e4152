package jaegertest_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/weftmesh/weft/internal/jaegertest"
)

// TestRoundTrip exports spans to both receivers and reads them back
// through the query API, parents and services included.
func TestRoundTrip(t *testing.T) {
	j := jaegertest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, addr := range []string{j.OTLPGRPCAddr(), j.OTLPHTTPAddr(), j.QueryURL()[len("http://"):]} {
		if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
			t.Errorf("listens on %s, want loopback only", addr)
		}
	}

	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(j.OTLPGRPCAddr()), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(j.OTLPHTTPAddr()), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	provider := func(service string, exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	}
	front, back := provider("front", grpcExp), provider("back", httpExp)

	pctx, parent := front.Tracer("test").Start(ctx, "handle")
	_, child := back.Tracer("test").Start(pctx, "query")
	child.SetAttributes(attribute.String("db", "orders"))
	child.End()
	parent.End()
	for _, tp := range []*sdktrace.TracerProvider{front, back} {
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}

	want := parent.SpanContext().TraceID().String()
	tr, err := j.AwaitTrace(ctx, "front", func(tr *jaegertest.Trace) bool {
		return tr.TraceID == want && len(tr.Spans) == 2
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, j.Log())
	}
	var root, leaf jaegertest.Span
	for _, s := range tr.Spans {
		switch s.OperationName {
		case "handle":
			root = s
		case "query":
			leaf = s
		}
	}
	if tr.Service(root) != "front" || tr.Service(leaf) != "back" {
		t.Errorf("services: handle from %q, query from %q", tr.Service(root), tr.Service(leaf))
	}
	if root.Parent() != "" || leaf.Parent() != root.SpanID {
		t.Errorf("parents: handle %q, query %q (handle is %s)", root.Parent(), leaf.Parent(), root.SpanID)
	}
	if v, ok := leaf.Tag("db"); !ok || v != "orders" {
		t.Errorf("tag db = %v, %v", v, ok)
	}
	if traces, err := j.Traces(ctx, "jaeger"); err != nil || len(traces) != 0 {
		t.Errorf("Jaeger traced itself: %d traces, %v", len(traces), err)
	}
}

// TestStartFailure checks that a binary that cannot start is reported
// with what went wrong, and leaves nothing behind.
func TestStartFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, err := jaegertest.Start(ctx, jaegertest.Config{Bin: "/bin/false", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Start(/bin/false) = %v, want an exit error", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a Dir given in Config was removed: %v", err)
	}
	if _, err := jaegertest.Start(ctx, jaegertest.Config{Bin: "/nonexistent/jaeger"}); err == nil || !strings.Contains(err.Error(), "build-tools") {
		t.Errorf("Start(missing binary) = %v, want a hint", err)
	}
}
