package mesh_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// serveBoth starts a node for cfg serving h over HTTP and impl over
// gRPC, and returns once both endpoints are published.
func serveBoth(t *testing.T, m *meshtest.Mesh, cfg mesh.Config, h http.Handler, impl *payments) *meshtest.Backend {
	t.Helper()
	b := m.Serve(cfg, h)
	s := b.NewGRPCServer()
	shoppb.RegisterPaymentsServer(s, impl)
	done := make(chan error, 1)
	go func() { done <- b.ServeGRPC(s, "127.0.0.1:0") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("ServeGRPC: %v", err)
		}
	})
	meshtest.WaitFor(t, 5*time.Second, "gRPC endpoint published", func() bool {
		return grpcEndpoint(b.Node, b.Name(), cfg.Service) != ""
	})
	return b
}

func status500(c *counter, name string, code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add(name)
		w.WriteHeader(code)
	})
}

// An instance whose HTTP side fails is taken out of picking for the
// node's gRPC calls too: HTTP and gRPC clients of a service share one
// breaker per instance.
func TestHTTPFailuresOpenTheBreakerGRPCRespects(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  payments:
    loadBalancer: round_robin
    retries: {attempts: 1}
    circuitBreaker: {consecutiveFailures: 3, openFor: 1m}
`)
	httpCalls, grpcCalls := &counter{}, &counter{}
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "bad", 500), &payments{name: "bad", calls: grpcCalls})
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "good", 200), &payments{name: "good", calls: grpcCalls})
	client := m.Start(mesh.Config{Service: "checkout"})
	meshtest.WaitEndpoints(t, client, "payments", 2)
	waitGRPCEndpoints(t, client, "payments", 2)

	hc := client.NewClient("payments")
	for range 10 {
		if resp, err := hc.Get("http://payments/"); err == nil {
			resp.Body.Close()
		}
	}
	if httpCalls.get("bad") < 3 {
		t.Fatalf("the failing instance got %d HTTP requests; its breaker needs 3 failures", httpCalls.get("bad"))
	}
	pc := dial(t, client, "payments")
	for i := range 20 {
		r, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 1})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if r.ServedBy != "good" {
			t.Fatalf("call %d went to %q, whose breaker HTTP failures opened", i, r.ServedBy)
		}
	}
	if n := grpcCalls.get("bad"); n != 0 {
		t.Errorf("the instance with an open breaker got %d gRPC calls", n)
	}
}

// Retries over HTTP and gRPC draw from the service's one retry budget.
func TestHTTPAndGRPCRetriesShareOneBudget(t *testing.T) {
	m := meshtest.New(t)
	// A budget of 3 retries (0.3/s over 10 s) and almost nothing earned
	// per call.
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  payments:
    retries: {attempts: 2, on: [5xx], budget: {ratio: 0.001, minPerSecond: 0.3, ttl: 10s}}
    routes:
      - {name: quotes, match: {pathPrefix: /shop.Payments/Quote}, idempotent: true}
`)
	httpCalls, grpcCalls := &counter{}, &counter{}
	down := status.Error(codes.Unavailable, "down")
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "a", 503), &payments{name: "a", calls: grpcCalls, fail: down})
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "b", 503), &payments{name: "b", calls: grpcCalls, fail: down})
	client := m.Start(mesh.Config{Service: "checkout"})
	meshtest.WaitEndpoints(t, client, "payments", 2)
	waitGRPCEndpoints(t, client, "payments", 2)

	hc := client.NewClient("payments")
	pc := dial(t, client, "payments")
	for range 5 {
		if resp, err := hc.Get("http://payments/"); err == nil {
			resp.Body.Close()
		}
		if _, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 1}); code(err) != codes.Unavailable {
			t.Fatalf("quote: %v, want Unavailable", err)
		}
	}
	http, grpc := httpCalls.get("a")+httpCalls.get("b"), grpcCalls.get("a")+grpcCalls.get("b")
	// Separate budgets would allow 3 retries each: 16 attempts.
	if got := http + grpc; got != 13 {
		t.Errorf("10 failing calls made %d attempts (%d HTTP, %d gRPC); one budget of 3 retries allows 13", got, http, grpc)
	}
}
