package mesh_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/internal/logtest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

const userIssuer = "https://id.example/"

// userClaims returns valid claims of a user for audience.
func userClaims(audience, sub string, kv ...any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": userIssuer, "aud": audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	return jwttest.With(c, kv...)
}

// jwtSection is an inbound jwt section trusting the test issuer's keys in
// file, for audience.
func jwtSection(file, audience, extra string) string {
	return fmt.Sprintf("      jwt: {issuers: [{issuer: %q, audiences: [%s], jwks: {file: %q}}]%s}\n", userIssuer, audience, file, extra)
}

// whoIsUser answers with what the server knows of its end user and of the
// token the handler got.
var whoIsUser = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	user, ok := mesh.Claims(r.Context())
	fmt.Fprintf(w, "user=%s ok=%v scopes=%v authorization=%q", user.Subject(), ok, user.Values("scope"), r.Header.Get("Authorization"))
})

func send(t *testing.T, c *http.Client, method, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// endUserMesh returns a mesh with mutual TLS whose payments service
// requires tokens signed by key, applies rules, and logs each request with
// its sub claim, and the logger its payments node should use.
func endUserMesh(t *testing.T, rules string) (*meshtest.Mesh, *jwttest.Key, *slog.Logger, *logtest.Buffer) {
	t.Helper()
	key := jwttest.RSA(t, 0, "k1")
	keys := jwttest.WriteKeySet(t, key)
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "telemetry: {accessLog: true}\nservices:\n  orders: {}\n  payments:\n    inbound:\n"+
		jwtSection(keys, "payments", ", logClaims: [sub]")+"      authorization: {rules: "+rules+"}\n")
	logger, logs := logtest.New()
	return m, key, logger, logs
}

// TestEndUserAuthenticationHTTP runs a mesh whose payments service
// requires tokens and rules on their claims, and checks every answer a
// caller can get.
func TestEndUserAuthenticationHTTP(t *testing.T) {
	m, key, logger, logs := endUserMesh(t, `[{from: [orders], paths: ["/charge"], claims: {scope: payments.write}}, {from: [orders], paths: ["/quote"]}]`)
	m.Serve(mesh.Config{Service: "payments", Logger: logger}, whoIsUser)
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	c := orders.NewClient("payments")

	good := key.Sign(t, userClaims("payments", "alice", "scope", "payments.read payments.write"))
	resp, body := send(t, c, "POST", "http://payments/charge", good)
	if resp.StatusCode != 200 || body != `user=alice ok=true scopes=[payments.read payments.write] authorization=""` {
		t.Fatalf("valid token: %d %q", resp.StatusCode, body)
	}

	resp, body = send(t, c, "POST", "http://payments/charge", "")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="payments"` {
		t.Errorf("no token: %d %q, challenge %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}

	expired := key.Sign(t, userClaims("payments", "alice", "exp", time.Now().Add(-time.Hour).Unix()))
	resp, body = send(t, c, "POST", "http://payments/charge", expired)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="payments", error="invalid_token"` || strings.Contains(body, "expired") {
		t.Errorf("expired token: %d %q, challenge %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	meshtest.WaitFor(t, 5*time.Second, "the reason in the log", func() bool {
		return logs.Count("refused an end-user token", "expired at", "caller=spiffe://example.org/svc/orders") == 1
	})

	for name, tok := range map[string]string{
		"alg none":            jwttest.Unsigned(t, userClaims("payments", "mallory", "scope", "payments.write")),
		"algorithm confusion": jwttest.HMACWithPublicKey(t, key, userClaims("payments", "mallory", "scope", "payments.write")),
		"wrong audience":      key.Sign(t, userClaims("orders", "alice", "scope", "payments.write")),
		"foreign key":         jwttest.RSA(t, 1, "k1").Sign(t, userClaims("payments", "mallory", "scope", "payments.write")),
	} {
		if resp, body := send(t, c, "POST", "http://payments/charge", tok); resp.StatusCode != 401 {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}

	// A valid token in the wrong place is no token.
	req, _ := http.NewRequest("POST", "http://payments/charge", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: good})
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("token in a cookie the policy does not name: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	reader := key.Sign(t, userClaims("payments", "bob", "scope", "payments.read"))
	if resp, body := send(t, c, "POST", "http://payments/charge", reader); resp.StatusCode != 403 || !strings.Contains(body, "end-user claims not allowed") {
		t.Errorf("claims the rule refuses: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "GET", "http://payments/quote", reader); resp.StatusCode != 200 || !strings.HasPrefix(body, "user=bob ok=true") {
		t.Errorf("rule without claims: %d %q", resp.StatusCode, body)
	}

	// Only the claims the policy names reach the access log.
	meshtest.WaitFor(t, 5*time.Second, "access log lines with claims", func() bool {
		return logs.Count("weft: access", "direction=inbound", "claims.sub=alice", "status=200") == 1
	})
	if logs.Count("weft: access", "claims.scope") > 0 {
		t.Error("the access log shows a claim the policy does not name")
	}
}

// TestEndUserAuthenticationGRPC checks the same for gRPC: the token in the
// authorization metadata, the claims in the handler's context.
func TestEndUserAuthenticationGRPC(t *testing.T) {
	m, key, logger, logs := endUserMesh(t, `[{from: [orders], paths: ["/shop.Payments/Charge"], claims: {scope: payments.write}}]`)
	var seen string
	impl := &payments{name: "p", calls: &counter{}, onCharge: func(ctx context.Context) error {
		user, _ := mesh.Claims(ctx)
		md, _ := metadata.FromIncomingContext(ctx)
		seen = fmt.Sprintf("%s %v", user.Subject(), md.Get("authorization"))
		return nil
	}}
	serveGRPC(t, m, mesh.Config{Service: "payments", Logger: logger}, impl)
	orders := m.Start(mesh.Config{Service: "orders"})
	waitGRPCEndpoints(t, orders, "payments", 1)
	client := dial(t, orders, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	charge := func(token string, opts ...grpc.CallOption) error {
		ctx := ctx
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		_, err := client.Charge(ctx, &shoppb.ChargeRequest{OrderId: "o1", AmountCents: 100}, opts...)
		return err
	}
	if err := charge(key.Sign(t, userClaims("payments", "alice", "scope", "payments.write"))); err != nil {
		t.Fatal(err)
	}
	if seen != "alice []" {
		t.Errorf("handler saw %q, want the claims and no token", seen)
	}
	if err := charge(""); code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	if err := charge(jwttest.Unsigned(t, userClaims("payments", "alice", "scope", "payments.write"))); code(err) != codes.Unauthenticated {
		t.Errorf("unsigned token: %v", err)
	}
	if err := charge(key.Sign(t, userClaims("payments", "alice", "scope", "payments.read"))); code(err) != codes.PermissionDenied {
		t.Errorf("claims the rule refuses: %v", err)
	}
	// A refusal carries the challenge an HTTP 401 carries in
	// WWW-Authenticate, in the www-authenticate trailer.
	for _, tc := range []struct {
		name, token, want string
	}{
		{"no token", "", `Bearer realm="payments"`},
		{"unsigned token", jwttest.Unsigned(t, userClaims("payments", "alice", "scope", "payments.write")), `Bearer realm="payments", error="invalid_token"`},
		{"expired token", key.Sign(t, userClaims("payments", "alice", "exp", time.Now().Add(-time.Hour).Unix())), `Bearer realm="payments", error="invalid_token"`},
	} {
		var trailer metadata.MD
		err := charge(tc.token, grpc.Trailer(&trailer))
		if got := trailer.Get("www-authenticate"); code(err) != codes.Unauthenticated || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %v, www-authenticate %q, want %q", tc.name, err, got, tc.want)
		}
	}
	var trailer metadata.MD
	if err := charge(key.Sign(t, userClaims("payments", "alice", "scope", "payments.read")), grpc.Trailer(&trailer)); len(trailer.Get("www-authenticate")) != 0 {
		t.Errorf("a refusal by the rules carries a challenge: %v, trailer %v", err, trailer)
	}
	meshtest.WaitFor(t, 5*time.Second, "the gRPC access log line with the claim", func() bool {
		return logs.Count("weft: access", "protocol=grpc", "claims.sub=alice", "status=0") == 1
	})
}

// TestEndUserClaimsDryRun runs payments with a dry-run rule on claims,
// over HTTP and gRPC: a token whose claims the rule refuses is served,
// and the denial it would have had is counted and logged; a token that
// fits (its scope in scp, as Hydra issues it) counts nothing.
// Authentication itself has no dry run: no token is still 401.
func TestEndUserClaimsDryRun(t *testing.T) {
	m, key, logger, logs := endUserMesh(t, `[{from: [orders], claims: {scope: payments.write}}], mode: dry-run`)
	srv := m.Serve(mesh.Config{Service: "payments", Logger: logger}, whoIsUser)
	var seen atomic.Value
	grpcSrv := serveGRPC(t, m, mesh.Config{Service: "payments", Logger: logger}, &payments{name: "p", calls: &counter{}, onCharge: func(ctx context.Context) error {
		user, _ := mesh.Claims(ctx)
		seen.Store(user.Subject())
		return nil
	}})
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	waitGRPCEndpoints(t, orders, "payments", 1)
	c := orders.NewClient("payments")
	reader := key.Sign(t, userClaims("payments", "bob", "scope", "payments.read"))
	writer := key.Sign(t, userClaims("payments", "alice", "scp", []string{"payments.write"}))

	if resp, body := send(t, c, "POST", "http://payments/charge", reader); resp.StatusCode != 200 || !strings.HasPrefix(body, "user=bob ok=true") {
		t.Errorf("claims the dry-run rule refuses: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "POST", "http://payments/charge", writer); resp.StatusCode != 200 || !strings.HasPrefix(body, "user=alice ok=true") {
		t.Errorf("claims the rule allows: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "POST", "http://payments/charge", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d %q", resp.StatusCode, body)
	}
	if st := srv.Status().Identity; st.Denied != 0 || st.WouldDeny != 1 {
		t.Errorf("HTTP node: denied %d, would deny %d; want 0 and 1", st.Denied, st.WouldDeny)
	}

	client := dial(t, orders, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tok := range []string{reader, writer} {
		ctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		if _, err := client.Charge(ctx, &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1}); err != nil {
			t.Errorf("gRPC: %v", err)
		}
		if tok == reader && seen.Load() != "bob" {
			t.Errorf("gRPC handler saw user %v, want bob", seen.Load())
		}
	}
	if st := grpcSrv.Status().Identity; st.Denied != 0 || st.WouldDeny != 1 {
		t.Errorf("gRPC node: denied %d, would deny %d; want 0 and 1", st.Denied, st.WouldDeny)
	}

	for _, path := range []string{"/charge", "/shop.Payments/Charge"} {
		meshtest.WaitFor(t, 5*time.Second, "the dry-run denial of "+path+" in the log", func() bool {
			return logs.Count("authorization dry-run: request would be denied", "caller=spiffe://example.org/svc/orders", "path="+path, `reason="end-user claims not allowed"`) == 1
		})
	}
	if n := logs.Count("authorization denied a request"); n != 0 {
		t.Errorf("%d denials logged in dry-run mode", n)
	}
}

// TestRoutesFollowTheUser sends a request with a beta user's token to a
// frontend whose handler calls catalog (HTTP) and payments (gRPC) with its
// request's context: routes on claims pick v2 for the beta user.
func TestRoutesFollowTheUser(t *testing.T) {
	key := jwttest.RSA(t, 0, "k1")
	keys := jwttest.WriteKeySet(t, key)
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, "version: 1\nservices:\n  frontend:\n    inbound:\n"+jwtSection(keys, "frontend", "")+`
  catalog:
    subsets: {v1: {version: v1}, v2: {version: v2}}
    routes:
      - {name: beta, match: {claims: {plan: beta}}, to: {v2: 1}}
      - {name: rest, to: {v1: 1}}
  payments:
    subsets: {v1: {version: v1}, v2: {version: v2}}
    routes:
      - {name: beta, match: {claims: {plan: [beta]}}, to: {v2: 1}}
      - {name: rest, to: {v1: 1}}
`)
	calls := &counter{}
	for _, v := range []string{"v1", "v2"} {
		m.Serve(mesh.Config{Service: "catalog", Version: v}, named(calls, "catalog-"+v))
		serveGRPC(t, m, mesh.Config{Service: "payments", Version: v}, &payments{name: "payments-" + v, calls: calls})
	}
	var front *meshtest.Backend
	var frontPayments atomic.Value // shoppb.PaymentsClient, once the mesh has it
	front = m.Serve(mesh.Config{Service: "frontend"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://catalog/items", nil)
		resp, err := front.NewClient("catalog").Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		receipt, err := frontPayments.Load().(shoppb.PaymentsClient).Charge(r.Context(), &shoppb.ChargeRequest{OrderId: "o", AmountCents: 1})
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		fmt.Fprintf(w, "%s %s", b, receipt.ServedBy)
	}))
	meshtest.WaitEndpoints(t, front.Node, "catalog", 2)
	waitGRPCEndpoints(t, front.Node, "payments", 2)
	frontPayments.Store(dial(t, front.Node, "payments"))
	client := m.Start(mesh.Config{Service: "shopper"})
	meshtest.WaitEndpoints(t, client, "frontend", 1)
	for _, tc := range []struct {
		plan, want string
	}{{"beta", "catalog-v2 payments-v2"}, {"gold", "catalog-v1 payments-v1"}} {
		for range 3 {
			tok := key.Sign(t, userClaims("frontend", "u", "plan", tc.plan))
			if resp, body := send(t, client.NewClient("frontend"), "GET", "http://frontend/", tok); resp.StatusCode != 200 || body != tc.want {
				t.Errorf("plan %s: %d %q, want %q", tc.plan, resp.StatusCode, body, tc.want)
			}
		}
	}
}

// TestEndUserPolicyReload turns authentication on and off by editing the
// policy: it applies live.
func TestEndUserPolicyReload(t *testing.T) {
	key := jwttest.RSA(t, 0, "k1")
	keys := jwttest.WriteKeySet(t, key)
	m := meshtest.New(t)
	open := "version: 1\nservices:\n  payments: {}\n"
	closed := "version: 1\nservices:\n  payments:\n    inbound:\n" + jwtSection(keys, "payments", "")
	m.PolicyFile = writePolicy(t, open)
	srv := m.Serve(mesh.Config{Service: "payments"}, whoIsUser)
	client := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, client, "payments", 1)
	c := client.NewClient("payments")
	if resp, body := send(t, c, "GET", "http://payments/", ""); resp.StatusCode != 200 || !strings.Contains(body, "ok=false") {
		t.Fatalf("before: %d %q", resp.StatusCode, body)
	}
	replacePolicy(t, m.PolicyFile, closed)
	meshtest.WaitFor(t, 5*time.Second, "jwt applied", func() bool {
		resp, _ := send(t, c, "GET", "http://payments/", "")
		return resp.StatusCode == 401
	})
	if resp, body := send(t, c, "GET", "http://payments/", key.Sign(t, userClaims("payments", "alice"))); resp.StatusCode != 200 || !strings.Contains(body, "user=alice") {
		t.Errorf("after: %d %q", resp.StatusCode, body)
	}
	replacePolicy(t, m.PolicyFile, open)
	meshtest.WaitFor(t, 5*time.Second, "jwt removed", func() bool {
		resp, _ := send(t, c, "GET", "http://payments/", "")
		return resp.StatusCode == 200
	})
	if st := srv.Status().Policy; st.Applied != 2 || st.Rejected != 0 {
		t.Errorf("policy status %+v", st)
	}
}
