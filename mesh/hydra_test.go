package mesh_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/hydratest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// TestHydraThroughTheMesh calls a service that trusts a real ORY Hydra
// with tokens Hydra issued, over HTTP and gRPC: the node fetches Hydra's
// key set over HTTPS, the rules read the token's scp claim.
func TestHydraThroughTheMesh(t *testing.T) {
	h := hydratest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writer, err := h.CreateClient(ctx, []string{"payments.write"}, []string{"payments"})
	if err != nil {
		t.Fatal(err)
	}
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, fmt.Sprintf(`services:
  orders: {}
  payments:
    inbound:
      jwt: {issuers: [{issuer: %q, audiences: [payments], jwks: {url: %q, ca: %q}}]}
      authorization: {rules: [{from: [orders], claims: {scp: [payments.write]}}]}
`, h.Issuer(), h.JWKSURL(), h.CAFile()))
	m.Serve(mesh.Config{Service: "payments"}, whoIsUser)
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "p", calls: &counter{}})
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	waitGRPCEndpoints(t, orders, "payments", 1)

	tok, err := h.Token(ctx, writer, []string{"payments.write"}, []string{"payments"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := send(t, orders.NewClient("payments"), "POST", "http://payments/charge", tok)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "user="+writer.ID+" ok=true") {
		t.Fatalf("Hydra's token over HTTP: %d %q", resp.StatusCode, body)
	}
	noScope, err := h.Token(ctx, writer, nil, []string{"payments"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := send(t, orders.NewClient("payments"), "POST", "http://payments/charge", noScope); resp.StatusCode != 403 {
		t.Errorf("token without the scope: %d %q", resp.StatusCode, body)
	}

	client := dial(t, orders, "payments")
	_, err = client.Charge(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
	if err != nil {
		t.Errorf("Hydra's token over gRPC: %v", err)
	}
	_, err = client.Charge(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok[:len(tok)-4]+"AAAA"), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
	if code(err) != codes.Unauthenticated {
		t.Errorf("a token with a broken signature over gRPC: %v", err)
	}
}
