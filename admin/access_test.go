package admin_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/mesh/meshtest"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/devca"
)

// mtlsClient returns an HTTP client that presents id, issued by ca, and
// requires the server to be server.
func mtlsClient(t *testing.T, ca *devca.CA, id, server string) *http.Client {
	t.Helper()
	src, err := devca.NewSourceFromCA(ca, spiffeid.RequireFromString(id), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	tr := &http.Transport{TLSClientConfig: security.ClientTLS(src, spiffeid.RequireFromString(server))}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// With an allow-list, the admin endpoint answers health and metrics to
// anyone, everything else only over mutual TLS to the identities listed;
// members read each other's counts over mutual TLS.
func TestAdminNeedsAnAllowedIdentity(t *testing.T) {
	ca, caDir := meshtest.DevCA(t)
	s := newShop(t, meshtest.SecurePolicy(t, caDir,
		"admin: {allow: [loadgen, checkout, payments, \"spiffe://example.org/tools/ops\"]}\n"))
	s.call(t, 5, "/ok")
	admin := s.loadgen.AdminAddr()
	plain := "http://" + admin
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200,
		"/weft/stats": 403, "/weft/mesh": 403, "/weft/tap": 403, "/debug/weft": 403, "/ui/": 403} {
		code, body := get(t, nil, plain+path)
		if code != want {
			t.Errorf("plaintext %s = %d, want %d: %s", path, code, want, body)
		}
		if code == 403 && !strings.Contains(string(body), "admin.allow") {
			t.Errorf("plaintext %s: the refusal does not say what to do: %s", path, body)
		}
	}
	server := "spiffe://example.org/svc/loadgen"
	ops := mtlsClient(t, ca, "spiffe://example.org/tools/ops", server)
	if code, body := get(t, ops, "https://"+admin+"/weft/stats"); code != 200 {
		t.Errorf("allowed tool: /weft/stats = %d: %s", code, body)
	}
	v := meshView(t, ops, "https://"+admin)
	for _, p := range v.Peers {
		if p.Error != "" {
			t.Errorf("peer %s %s over mutual TLS: %s", p.Service, p.Node, p.Error)
		}
	}
	if e := edge(v, "checkout", "payments"); !e.found || e.n != 5 {
		t.Errorf("checkout → payments = %+v, want 5 requests, read from checkout's own counts", e)
	}
	intruder := mtlsClient(t, ca, "spiffe://example.org/svc/intruder", server)
	if code, body := get(t, intruder, "https://"+admin+"/weft/stats"); code != 403 || !strings.Contains(string(body), "spiffe://example.org/svc/intruder is not allowed") {
		t.Errorf("an identity not listed: %d %s", code, body)
	}
}

// No page of the admin endpoint shows a secret: not the gossip key, not
// the OTLP headers, not a request's credentials in the tap.
func TestNoSecretOnAnyPage(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	secrets := []string{key, "otlp-secret-123", "req-token-789", "cookie-secret-0"}
	policy := writePolicy(t, `version: 1
mesh: {name: shop, gossipKey: "`+key+`"}
admin: {tapHeaders: [x-request-id]}
telemetry:
  tracing: {sampleRatio: 0, otlp: {endpoint: "127.0.0.1:1", headers: {authorization: "Bearer otlp-secret-123"}}}
`)
	s := newShop(t, policy)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := "http://" + s.checkout.AdminAddr()
	events := sse(ctx, t, nil, base+"/weft/tap")
	<-events // hello
	req, _ := http.NewRequest("GET", "http://checkout/ok", nil)
	req.Header.Set("Authorization", "Bearer req-token-789")
	req.Header.Set("Cookie", "session=cookie-secret-0")
	req.Header.Set("X-Request-Id", "visible-id-1")
	resp, err := s.loadgen.NewClient("checkout").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	pages := map[string]string{}
	for _, path := range []string{"/debug/weft", "/debug/weft?format=html", "/weft/mesh", "/weft/stats", "/ui/", "/ui/app.js", "/metrics"} {
		_, body := get(t, nil, base+path)
		pages[path] = string(body)
	}
	var tapped []string
	for len(tapped) < 2 {
		select {
		case ev := <-events:
			if ev[0] == "message" {
				tapped = append(tapped, ev[1])
			}
		case <-ctx.Done():
			t.Fatalf("the tap showed %d events", len(tapped))
		}
	}
	pages["tap"] = strings.Join(tapped, "\n")
	for name, page := range pages {
		for _, secret := range secrets {
			if strings.Contains(page, secret) {
				t.Errorf("%s shows the secret %q", name, secret)
			}
		}
	}
	if !strings.Contains(pages["tap"], "visible-id-1") || !strings.Contains(pages["tap"], `"authorization":"(redacted)"`) {
		t.Errorf("the tap does not show the allow-listed header and redact the others: %s", pages["tap"])
	}
	if !strings.Contains(pages["/debug/weft"], `"gossipEncrypted": true`) {
		t.Error("the status does not say that gossip is encrypted")
	}
}
