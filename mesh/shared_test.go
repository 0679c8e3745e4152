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

// badAndGood starts two instances of payments, serving HTTP and gRPC:
// "bad" answers HTTP requests with 500 and gRPC calls with badGRPC, "good"
// answers both; and a node that calls them, once it knows both endpoints
// of each protocol. Calls to payments are balanced round robin and never
// retried, each one attempt to the next instance; protection is the
// policy's line that adds breakers or outlier detection. The counters
// count each instance's HTTP requests and gRPC calls.
func badAndGood(t *testing.T, protection string, badGRPC error) (client *mesh.Node, httpCalls, grpcCalls *counter) {
	t.Helper()
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  payments:
    loadBalancer: round_robin
    retries: {attempts: 1}
    `+protection+`
`)
	httpCalls, grpcCalls = &counter{}, &counter{}
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "bad", 500), &payments{name: "bad", calls: grpcCalls, fail: badGRPC})
	serveBoth(t, m, mesh.Config{Service: "payments"}, status500(httpCalls, "good", 200), &payments{name: "good", calls: grpcCalls})
	client = m.Start(mesh.Config{Service: "checkout"})
	meshtest.WaitEndpoints(t, client, "payments", 2)
	waitGRPCEndpoints(t, client, "payments", 2)
	return client, httpCalls, grpcCalls
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
	client, httpCalls, grpcCalls := badAndGood(t, "circuitBreaker: {consecutiveFailures: 3, openFor: 1m}", nil)

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

// An instance that fails over both protocols is ejected for both: the
// node's HTTP and gRPC clients of a service share one outlier detector,
// which counts an instance's failures over either protocol as one run.
// Neither protocol alone sees the four failures in a row that eject it.
func TestHTTPAndGRPCFailuresEjectAnInstanceTogether(t *testing.T) {
	client, httpCalls, grpcCalls := badAndGood(t, "outlierDetection: {consecutiveErrors: 4, ejectFor: 1m}", status.Error(codes.Internal, "broken"))

	hc := client.NewClient("payments")
	pc := dial(t, client, "payments")
	get := func() int {
		resp, err := hc.Get("http://payments/")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// One call at a time until the failing instance has failed twice
	// over HTTP, then twice over gRPC.
	meshtest.WaitFor(t, 10*time.Second, "2 HTTP failures of the bad instance", func() bool {
		get()
		return httpCalls.get("bad") == 2
	})
	meshtest.WaitFor(t, 10*time.Second, "2 gRPC failures of the bad instance", func() bool {
		pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 1})
		return grpcCalls.get("bad") == 2
	})
	for i := range 10 {
		if got := get(); got != http.StatusOK {
			t.Errorf("GET %d: status %d; the instance that failed 4 times in a row should be ejected", i, got)
		}
		r, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 1})
		if err != nil || r.ServedBy != "good" {
			t.Errorf("quote %d: %v, %v; the instance that failed 4 times in a row should be ejected", i, r, err)
		}
	}
	if h, g := httpCalls.get("bad"), grpcCalls.get("bad"); h != 2 || g != 2 {
		t.Errorf("the bad instance got %d HTTP and %d gRPC calls, want 2 and 2: ejected after its fourth failure", h, g)
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
