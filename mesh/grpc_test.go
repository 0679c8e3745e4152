package mesh_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestGRPCSpreadsCallsAcrossBackends(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  payments: {loadBalancer: round_robin, timeout: 2s}
`)
	var c counter
	for i := range 3 {
		serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: fmt.Sprint("b", i), calls: &c})
	}
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 3)
	pc := dial(t, client, "payments")

	// The channel connects to every endpoint on its first call; once all
	// three are READY, round robin takes each in turn.
	meshtest.WaitFor(t, 5*time.Second, "all three backends connected", func() bool {
		_, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: 1})
		return err == nil && c.get("b0") > 0 && c.get("b1") > 0 && c.get("b2") > 0
	})
	before := c.snapshot()
	const calls = 300
	for i := range calls {
		r, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: fmt.Sprint(i), AmountCents: 100})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if r.ServedBy == "" {
			t.Fatalf("call %d: reply names no backend", i)
		}
	}
	after := c.snapshot()
	for i := range 3 {
		name := fmt.Sprint("b", i)
		got := after[name] - before[name]
		t.Logf("%s: %d of %d calls", name, got, calls)
		if got != calls/3 {
			t.Errorf("%s got %d of %d calls; round robin over 3 backends gives each exactly %d", name, got, calls, calls/3)
		}
	}
}

func TestGRPCStreamsOfEveryKind(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "b0", calls: &c})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")
	ctx := context.Background()

	// Server streaming.
	w, err := pc.Watch(ctx, &shoppb.WatchRequest{PaymentId: "p1", Updates: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		st, err := w.Recv()
		if err != nil {
			t.Fatalf("watch update %d: %v", i, err)
		}
		if st.Seq != int32(i+1) {
			t.Fatalf("watch update %d has seq %d", i, st.Seq)
		}
	}
	if _, err := w.Recv(); err != io.EOF {
		t.Fatalf("watch ended with %v, want io.EOF", err)
	}

	// Client streaming.
	b, err := pc.Batch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Send(&shoppb.ChargeRequest{OrderId: fmt.Sprint(i), AmountCents: 10}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := b.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count != 5 || sum.TotalCents != 50 {
		t.Fatalf("batch summary %v, want 5 charges, 50 cents", sum)
	}

	// Bidirectional.
	l, err := pc.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Send(&shoppb.ChargeRequest{OrderId: fmt.Sprint("o", i), AmountCents: 1}); err != nil {
			t.Fatal(err)
		}
		r, err := l.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.OrderId != fmt.Sprint("o", i) {
			t.Fatalf("ledger answered %q to o%d", r.OrderId, i)
		}
	}
	l.CloseSend()
	if _, err := l.Recv(); err != io.EOF {
		t.Fatalf("ledger ended with %v, want io.EOF", err)
	}
}

func TestGRPCHealthServiceFollowsDrain(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	b := serveGRPC(t, m, mesh.Config{Service: "payments", DrainDelay: 500 * time.Millisecond}, &payments{name: "b0", calls: &c})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 1)
	cc, err := client.DialGRPC(context.Background(), "payments")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthgrpc.NewHealthClient(cc)
	for _, svc := range []string{"", "shop.Payments"} {
		r, err := hc.Check(context.Background(), &healthgrpc.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("check %q: %v", svc, err)
		}
		if r.Status != healthgrpc.HealthCheckResponse_SERVING {
			t.Fatalf("check %q: %v, want SERVING", svc, r.Status)
		}
	}
	// A watcher sees NOT_SERVING when the drain starts, and its stream
	// does not hold up the graceful stop.
	watch, err := hc.Watch(context.Background(), &healthgrpc.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("first watch update: %v, %v", r, err)
	}
	stopped := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- b.Shutdown(ctx)
	}()
	r, err := watch.Recv()
	if err != nil || r.Status != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch update after drain: %v, %v", r, err)
	}
	if _, err := watch.Recv(); code(err) == codes.OK {
		t.Fatalf("watch went on after the server stopped: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v: the health watch held up the graceful stop", d)
	}
}

func TestGRPCChannelsFollowPolicyReloads(t *testing.T) {
	m := meshtest.New(t)
	path := writePolicy(t, "version: 1\nmesh: {name: test}\n")
	m.PolicyFile = path
	var c counter
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "b0", calls: &c})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")
	if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatal(err)
	}
	// A fault injected by editing the policy reaches the open channel.
	replacePolicy(t, path, `version: 1
mesh: {name: test}
services:
  payments:
    routes:
      - {match: {path: /shop.Payments/Charge}, fault: {abort: {status: 503, percent: 100}}}
`)
	start := time.Now()
	meshtest.WaitFor(t, 5*time.Second, "the reloaded policy on the channel", func() bool {
		_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
		return code(err) == codes.Unavailable
	})
	t.Logf("reload reached the gRPC channel after %v", time.Since(start).Round(time.Millisecond))
	if _, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{}); err != nil {
		t.Errorf("quote, which the route does not match: %v", err)
	}
}
