package mesh_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/extauthztest"
	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
	"github.com/weftmesh/weft/security/extauthz/envoy"
)

// tenantCheck allows requests of orders for tenant acme, telling the
// handler who the end user is; it denies others with 401.
func tenantCheck(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a := req.GetAttributes()
	h := a.GetRequest().GetHttp().GetHeaders()
	if a.GetSource().GetPrincipal() != "spiffe://example.org/svc/orders" || h["x-tenant"] != "acme" {
		return extauthztest.Denied(401, "tenant unknown"), nil
	}
	sub := a.GetMetadataContext().GetFilterMetadata()[envoy.JWTMetadataNamespace].GetFields()[envoy.JWTPayloadKey].GetStructValue().GetFields()["sub"].GetStringValue()
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-checked-user", Value: sub}}},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-checked", Value: "yes"}}},
		}},
	}, nil
}

// TestEnvoyExtAuthz runs payments behind an ext_authz gRPC server written
// against Envoy's API, over HTTP and gRPC, then crashes the server.
func TestEnvoyExtAuthz(t *testing.T) {
	key := jwttest.RSA(t, 0, "k1")
	keys := jwttest.WriteKeySet(t, key)
	authz := extauthztest.Start(t, tenantCheck)
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "services:\n  orders: {}\n  payments:\n    inbound:\n"+jwtSection(keys, "payments", "")+
		fmt.Sprintf("      extAuthz: {envoy: {address: %q}, timeout: 2s, headers: [x-tenant]}\n", authz.Addr()))
	srv := m.Serve(mesh.Config{Service: "payments"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "checked user %s", r.Header.Get("X-Checked-User"))
	}))
	var seen string
	impl := &payments{name: "p", calls: &counter{}, onCharge: func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		seen = strings.Join(md.Get("x-checked-user"), ",")
		return nil
	}}
	grpcSrv := serveGRPC(t, m, mesh.Config{Service: "payments"}, impl)
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	c := orders.NewClient("payments")
	tok := key.Sign(t, userClaims("payments", "alice"))

	do := func(tenant string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", "http://payments/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Tenant", tenant)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do("acme")
	if resp.StatusCode != 200 || body != "checked user alice" || resp.Header.Get("X-Checked") != "yes" {
		t.Fatalf("allowed: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if got := authz.Last().GetAttributes().GetRequest().GetHttp().GetHeaders(); len(got) != 1 {
		t.Errorf("headers sent to the server: %v, want x-tenant only", got)
	}
	resp, body = do("globex")
	if resp.StatusCode != 401 || body != "tenant unknown" {
		t.Errorf("denied: %d %q", resp.StatusCode, body)
	}

	client := dial(t, orders, "payments")
	waitGRPCEndpoints(t, orders, "payments", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	charge := func(tenant string) error {
		ctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok, "x-tenant", tenant)
		_, err := client.Charge(ctx, &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
		return err
	}
	if err := charge("acme"); err != nil || seen != "alice" {
		t.Errorf("gRPC allowed: %v, handler saw %q", err, seen)
	}
	if err := charge("globex"); code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "tenant unknown") {
		t.Errorf("gRPC denied: %v", err)
	}

	// The server crashes: deny mode refuses with 503 / UNAVAILABLE.
	authz.Stop()
	if resp, _ := do("acme"); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("server down: %d", resp.StatusCode)
	}
	if err := charge("acme"); code(err) != codes.Unavailable {
		t.Errorf("gRPC, server down: %v", err)
	}
	if st := srv.EndUserStats(); st.ExternalDenied != 1 || st.ExternalFailed == 0 {
		t.Errorf("HTTP node stats %+v", st)
	}
	if st := grpcSrv.EndUserStats(); st.ExternalDenied != 1 || st.ExternalFailed == 0 {
		t.Errorf("gRPC node stats %+v", st)
	}
	if st := srv.Status().Inbound.EndUser; st.ExternalDenied != 1 || st.ExternalFailed == 0 {
		t.Errorf("the admin status shows %+v", st)
	}
}
