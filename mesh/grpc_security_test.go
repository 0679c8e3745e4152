package mesh_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// caDir makes a development CA in a fresh directory and returns the
// directory.
func caDir(t *testing.T) string {
	t.Helper()
	_, dir := meshtest.DevCA(t)
	return dir
}

// authorizedPayments lets checkout call every payments method and
// reports only Quote.
const authorizedPayments = `services:
  checkout: {}
  reports: {}
  payments:
    inbound:
      authorization:
        rules:
          - {from: [checkout], paths: ["/shop.Payments/*"]}
          - {from: [reports], methods: [POST], paths: ["/shop.Payments/Quote"]}
`

func TestGRPCAuthorizationByMethodOverMutualTLS(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir(t), authorizedPayments)
	var c counter
	var seen []string
	p := &payments{name: "b0", calls: &c}
	p.onCharge = func(ctx context.Context) error {
		id, ok := mesh.PeerID(ctx)
		if !ok {
			return fmt.Errorf("the handler sees no verified caller")
		}
		seen = append(seen, id.String())
		return nil
	}
	serveGRPC(t, m, mesh.Config{Service: "payments"}, p)
	checkoutNode := m.Start(mesh.Config{Service: "checkout"})
	reportsNode := m.Start(mesh.Config{Service: "reports"})
	waitGRPCEndpoints(t, checkoutNode, "payments", 1)
	waitGRPCEndpoints(t, reportsNode, "payments", 1)
	checkout := dial(t, checkoutNode, "payments")
	reports := dial(t, reportsNode, "payments")
	ctx := context.Background()

	if _, err := checkout.Charge(ctx, &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("checkout's charge (allowed): %v", err)
	}
	if len(seen) != 1 || seen[0] != "spiffe://example.org/svc/checkout" {
		t.Errorf("the handler saw callers %v", seen)
	}
	if _, err := reports.Quote(ctx, &shoppb.QuoteRequest{}); err != nil {
		t.Fatalf("reports' quote (allowed): %v", err)
	}
	_, err := reports.Charge(ctx, &shoppb.ChargeRequest{})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("reports' charge (denied): %v, want PermissionDenied", err)
	}
	if !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("denial message %q does not say why", err)
	}
	if p.charges.Load() != 1 {
		t.Errorf("%d charges reached the handler, want checkout's only", p.charges.Load())
	}
}

func TestGRPCClientWithTheWrongIdentityIsRefused(t *testing.T) {
	const services = "services:\n  payments: {timeout: 1s}\n"
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir(t), services)
	var c counter
	p := &payments{name: "b0", calls: &c}
	b := serveGRPC(t, m, mesh.Config{Service: "payments"}, p)

	// Same mesh, same trust domain, but certificates from another CA: a
	// client the payments server cannot trust (nor it the server).
	intruder := m.Start(mesh.Config{Service: "checkout", PolicyFile: meshtest.SecurePolicy(t, caDir(t), services)})
	waitGRPCEndpoints(t, intruder, "payments", 1)
	_, err := dial(t, intruder, "payments").Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable && code(err) != codes.DeadlineExceeded {
		t.Fatalf("charge by a client of another CA: %v, want it refused", err)
	}
	if p.charges.Load() != 0 {
		t.Fatal("a call from an untrusted client reached the handler")
	}

	// A plaintext client of the same mesh, without an identity, too.
	plain := m.Start(mesh.Config{Service: "reports", PolicyFile: writePolicy(t, "version: 1\nmesh: {name: secure}\n"+services)})
	waitGRPCEndpoints(t, plain, "payments", 1)
	if _, err := dial(t, plain, "payments").Charge(context.Background(), &shoppb.ChargeRequest{}); err == nil {
		t.Fatal("a plaintext client's charge was served by a strict server")
	}

	// The genuine client works.
	good := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, good, "payments", 1)
	if _, err := dial(t, good, "payments").Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("genuine client: %v", err)
	}
	if p.charges.Load() != 1 {
		t.Errorf("%d charges served, want the genuine client's one", p.charges.Load())
	}
	// The server's listener counted the plaintext connections it refused.
	if st := b.Status().Identity; st == nil || st.Connections.Refused == 0 {
		t.Errorf("identity status %+v counts no refused connection", st)
	}
}
