package mesh_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/internal/opatest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// paymentsPolicy is a Rego policy for payments: orders may charge for
// users holding the payments.write scope, gRPC and HTTP alike.
const paymentsPolicy = `package shop.payments

default allow := false

allow if {
	input.source.service == "orders"
	input.source.principal == "spiffe://example.org/svc/orders"
	"payments.write" in split(input.claims.scope, " ")
	input.path in {"/charge", "/shop.Payments/Charge"}
}
`

// TestOPAExtAuthz runs payments behind a real OPA, from the policy file.
func TestOPAExtAuthz(t *testing.T) {
	o := opatest.New(t, paymentsPolicy)
	key := jwttest.RSA(t, 0, "k1")
	keys := jwttest.WriteKeySet(t, key)
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	policy := func(path string) string {
		return meshtest.SecurePolicyBody(caDir, "services:\n  orders: {}\n  payments:\n    inbound:\n"+jwtSection(keys, "payments", "")+
			fmt.Sprintf("      extAuthz: {opa: {url: %q, path: %s}, timeout: 2s}\n", o.URL(), path))
	}
	m.PolicyFile = writePolicy(t, policy("shop/payments/allow"))
	m.Serve(mesh.Config{Service: "payments"}, whoIsUser)
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "p", calls: &counter{}})
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	waitGRPCEndpoints(t, orders, "payments", 1)

	writer := key.Sign(t, userClaims("payments", "alice", "scope", "payments.read payments.write"))
	reader := key.Sign(t, userClaims("payments", "bob", "scope", "payments.read"))
	c := orders.NewClient("payments")
	if resp, body := send(t, c, "POST", "http://payments/charge", writer); resp.StatusCode != http.StatusOK {
		t.Errorf("writer: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "POST", "http://payments/charge", reader); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reader: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "POST", "http://payments/refund", writer); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another path: %d %q", resp.StatusCode, body)
	}

	client := dial(t, orders, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for tok, want := range map[string]codes.Code{writer: codes.OK, reader: codes.PermissionDenied} {
		_, err := client.Charge(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
		if code(err) != want {
			t.Errorf("gRPC: %v, want %s", err, want)
		}
	}

	// A new decision path applies live; one the policy does not define
	// denies everything.
	replacePolicy(t, m.PolicyFile, policy("shop/payments/misspelt"))
	meshtest.WaitFor(t, 5*time.Second, "the new extAuthz path", func() bool {
		resp, _ := send(t, c, "POST", "http://payments/charge", writer)
		return resp.StatusCode == http.StatusForbidden
	})
}
