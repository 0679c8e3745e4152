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
	"google.golang.org/protobuf/types/known/structpb"

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

// extAuthzMesh runs, behind one ext_authz server with headers [x-tenant],
// payments (failure mode deny, the default) and ledger (failure mode
// allow), each over HTTP and gRPC; extra is added to both extAuthz
// sections. It returns the orders node that calls them, and the backends.
func extAuthzMesh(t *testing.T, authz *extauthztest.Server, extra string) (*mesh.Node, map[string]*meshtest.Backend, map[string]*grpcBackend) {
	t.Helper()
	section := func(mode string) string {
		return fmt.Sprintf("    inbound:\n      extAuthz: {envoy: {address: %q}, headers: [x-tenant]%s%s}\n", authz.Addr(), mode, extra)
	}
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, "version: 1\nservices:\n  orders: {}\n  payments:\n"+section("")+"  ledger:\n"+section(", failureMode: allow"))
	httpBackends, grpcBackends := map[string]*meshtest.Backend{}, map[string]*grpcBackend{}
	for _, service := range []string{"payments", "ledger"} {
		httpBackends[service] = m.Serve(mesh.Config{Service: service}, whoIsUser)
		grpcBackends[service] = serveGRPC(t, m, mesh.Config{Service: service}, &payments{name: service, calls: &counter{}})
	}
	orders := m.Start(mesh.Config{Service: "orders"})
	for _, service := range []string{"payments", "ledger"} {
		meshtest.WaitEndpoints(t, orders, service, 1)
		waitGRPCEndpoints(t, orders, service, 1)
	}
	return orders, httpBackends, grpcBackends
}

// post sends a POST (never retried after it reached the server) with an
// X-Tenant header through c, and returns the answer and how long it took.
func post(t *testing.T, c *http.Client, url string) (*http.Response, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("X-Tenant", "acme")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), time.Since(start)
}

// TestExtAuthzServerFailsThroughTheMesh checks, through running nodes, a
// server that hangs and one that answers garbage: the request is answered
// within the check's timeout (plus a margin for two busy cores), refused
// with 503 (gRPC UNAVAILABLE) under failureMode deny, served under allow.
func TestExtAuthzServerFailsThroughTheMesh(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const margin = 2500 * time.Millisecond
	authz := extauthztest.Start(t, extauthztest.Hang)
	orders, backends, grpcBackends := extAuthzMesh(t, authz, fmt.Sprintf(", timeout: %s", timeout))
	clients := map[string]shoppb.PaymentsClient{"payments": dial(t, orders, "payments"), "ledger": dial(t, orders, "ledger")}
	garbage := func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		// Allowed, but with a header no server may set: not a decision.
		return &authv3.CheckResponse{
			Status: &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "host", Value: "elsewhere"}}},
			}},
		}, nil
	}

	for _, server := range []struct {
		name   string
		decide extauthztest.Decide
		slow   bool
	}{{"hanging", extauthztest.Hang, true}, {"garbage", garbage, false}} {
		authz.SetDecide(server.decide)
		for _, service := range []string{"payments", "ledger"} {
			what := fmt.Sprintf("%s server, %s", server.name, service)
			calls := authz.Calls()
			resp, body, elapsed := post(t, orders.NewClient(service), "http://"+service+"/charge")
			switch {
			case service == "payments" && (resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1"):
				t.Errorf("%s, failure mode deny: %d %q", what, resp.StatusCode, body)
			case service == "ledger" && (resp.StatusCode != 200 || !strings.HasPrefix(body, "user= ok=false")):
				t.Errorf("%s, failure mode allow: %d %q", what, resp.StatusCode, body)
			}
			if elapsed > timeout+margin || server.slow && elapsed < timeout {
				t.Errorf("%s: answered after %v with a %v timeout", what, elapsed, timeout)
			}
			if n := authz.Calls() - calls; n != 1 {
				t.Errorf("%s: %d checks for one request, want 1", what, n)
			}

			calls = authz.Calls()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			_, err := clients[service].Charge(metadata.AppendToOutgoingContext(ctx, "x-tenant", "acme"), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
			elapsed = time.Since(start)
			cancel()
			switch {
			case service == "payments" && code(err) != codes.Unavailable:
				t.Errorf("%s, gRPC, failure mode deny: %v", what, err)
			case service == "ledger" && err != nil:
				t.Errorf("%s, gRPC, failure mode allow: %v", what, err)
			}
			if elapsed > timeout+margin || server.slow && elapsed < timeout {
				t.Errorf("%s, gRPC: answered after %v with a %v timeout", what, elapsed, timeout)
			}
			if n := authz.Calls() - calls; n != 1 {
				t.Errorf("%s, gRPC: %d checks for one call, want 1", what, n)
			}
		}
	}
	for _, service := range []string{"payments", "ledger"} {
		if st := backends[service].EndUserStats(); st.ExternalFailed != 2 || st.ExternalDenied != 0 {
			t.Errorf("%s HTTP node stats %+v, want 2 failed checks", service, st)
		}
		if st := grpcBackends[service].EndUserStats(); st.ExternalFailed != 2 || st.ExternalDenied != 0 {
			t.Errorf("%s gRPC node stats %+v, want 2 failed checks", service, st)
		}
	}
}

// TestExtAuthzCacheThroughTheMesh checks that a decision the server
// allowed to be cached answers the same request again without asking the
// server, over HTTP and gRPC, and that one it did not allow is not reused.
func TestExtAuthzCacheThroughTheMesh(t *testing.T) {
	meta, err := structpb.NewStruct(map[string]any{envoy.CacheTTLKey: 60})
	if err != nil {
		t.Fatal(err)
	}
	cacheable := func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)}, DynamicMetadata: meta}, nil
	}
	authz := extauthztest.Start(t, cacheable)
	orders, backends, grpcBackends := extAuthzMesh(t, authz, ", cacheTTL: 30s")
	c := orders.NewClient("payments")
	client := dial(t, orders, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	charge := func() error {
		_, err := client.Charge(metadata.AppendToOutgoingContext(ctx, "x-tenant", "acme"), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
		return err
	}

	for _, path := range []string{"/cached", "/cached", "/other", "/cached"} {
		if resp, body, _ := post(t, c, "http://payments"+path); resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %q", path, resp.StatusCode, body)
		}
	}
	if n := authz.Calls(); n != 2 {
		t.Errorf("%d checks for 4 requests to 2 paths, want 2: the decisions were allowed to be cached", n)
	}
	for range 3 {
		if err := charge(); err != nil {
			t.Fatal(err)
		}
	}
	if n := authz.Calls(); n != 3 {
		t.Errorf("%d checks after 3 identical gRPC calls, want 3 (1 more)", n)
	}
	if st := backends["payments"].EndUserStats(); st.ExternalCached != 2 {
		t.Errorf("HTTP node stats %+v, want 2 cached decisions", st)
	}
	if st := grpcBackends["payments"].EndUserStats(); st.ExternalCached != 2 {
		t.Errorf("gRPC node stats %+v, want 2 cached decisions", st)
	}

	// Without the server's leave, nothing is reused.
	authz.SetDecide(extauthztest.Allow)
	calls := authz.Calls()
	for range 2 {
		if resp, body, _ := post(t, c, "http://payments/uncached"); resp.StatusCode != 200 {
			t.Fatalf("POST /uncached: %d %q", resp.StatusCode, body)
		}
	}
	if n := authz.Calls() - calls; n != 2 {
		t.Errorf("%d checks for 2 requests the server did not allow to cache, want 2", n)
	}
}
