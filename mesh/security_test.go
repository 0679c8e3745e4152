package mesh_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/devca"
)

// whoami answers with what the server knows of its caller.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := mesh.PeerID(r.Context())
	fmt.Fprintf(w, "%v %v %s tls=%v", id, ok, r.Header.Get("Weft-Source"), r.TLS != nil)
})

func call(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMutualTLSBetweenServices(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "")
	backend := m.Serve(mesh.Config{Service: "payments"}, whoami)
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)

	code, body := call(t, orders.NewClient("payments"), "GET", "http://payments/")
	if want := "spiffe://example.org/svc/orders true orders tls=true"; code != 200 || body != want {
		t.Fatalf("got %d %q, want 200 %q", code, body, want)
	}

	// A plaintext caller learns why it is refused.
	resp, err := http.Get("http://" + backend.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "payments accepts mutual TLS only") {
		t.Fatalf("plaintext caller got %d %q, want 400 saying mTLS is required", resp.StatusCode, b)
	}
	if code, _ := call(t, orders.NewClient("payments"), "GET", "http://payments/"); code != 200 {
		t.Fatalf("mesh call after the refused plaintext one: %d", code)
	}

	st := backend.Status().Identity
	if st == nil || st.ID != "spiffe://example.org/svc/payments" || st.Mode != "strict" {
		t.Fatalf("identity status %+v", st)
	}
	if st.ExpiresInSeconds < 3500 || st.ExpiresInSeconds > 3700 {
		t.Errorf("SVID expires in %v s, want about an hour", st.ExpiresInSeconds)
	}
	if st.Connections.Refused != 1 || st.Connections.TLS == 0 {
		t.Errorf("connections %+v, want 1 refused and some TLS", st.Connections)
	}
}

// A member that announces itself as payments but serves with the orders
// identity (a genuine SVID of the same mesh) never gets a request.
func TestForgedCatalogEntryIsRefused(t *testing.T) {
	ca, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "")
	genuine := m.Serve(mesh.Config{Service: "payments"}, whoami)
	client := m.Start(mesh.Config{Service: "checkout"})

	// The impostor: a real TLS server with the orders SVID...
	src, err := devca.NewSourceFromCA(ca, spiffeid.RequireFromString("spiffe://example.org/svc/orders"), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var impostorHits atomic.Int64
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { impostorHits.Add(1) }),
		TLSConfig: security.ServerTLS(src),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.Serve(tls.NewListener(l, srv.TLSConfig))
	defer srv.Close()
	// ...announced over gossip as an instance of payments.
	fake, err := discovery.Start(context.Background(), discovery.Config{
		MeshName: "secure",
		BindAddr: "127.0.0.1:0",
		Join:     []string{genuine.GossipAddr()},
		Local: discovery.Instance{Service: "payments", State: discovery.StateReady, Weight: 1,
			Endpoints: []discovery.Endpoint{{Protocol: "http", Addr: l.Addr().String()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	meshtest.WaitEndpoints(t, client, "payments", 2)

	c := client.NewClient("payments")
	for i := range 40 {
		code, body := call(t, c, "GET", "http://payments/")
		if code != 200 || !strings.HasPrefix(body, "spiffe://example.org/svc/checkout") {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := impostorHits.Load(); n != 0 {
		t.Fatalf("the impostor served %d requests", n)
	}
}

func TestAuthorization(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	rules := func(mode string) string {
		return fmt.Sprintf(`services:
  orders: {}
  audit: {}
  payments:
    mtls: permissive
    inbound:
      authorization:
        mode: %s
        rules:
          - {from: [orders], methods: [GET], paths: ["/charge*"]}
`, mode)
	}
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, rules("enforce"))
	backend := m.Serve(mesh.Config{Service: "payments"}, whoami)
	orders := m.Start(mesh.Config{Service: "orders"})
	audit := m.Start(mesh.Config{Service: "audit"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	meshtest.WaitEndpoints(t, audit, "payments", 1)

	for _, tc := range []struct {
		name         string
		c            *http.Client
		method, path string
		code         int
		reason       string
	}{
		{"allowed", orders.NewClient("payments"), "GET", "/charge/42", 200, ""},
		{"method not allowed", orders.NewClient("payments"), "POST", "/charge/42", 403, "method"},
		{"path not allowed", orders.NewClient("payments"), "GET", "/refund", 403, "path"},
		{"source not allowed", audit.NewClient("payments"), "GET", "/charge/42", 403, "source"},
		{"no identity", http.DefaultClient, "GET", "/charge/42", 403, "no identity"},
	} {
		url := "http://payments" + tc.path
		if tc.c == http.DefaultClient {
			url = "http://" + backend.Addr + tc.path // plaintext, allowed by permissive mTLS
		}
		code, body := call(t, tc.c, tc.method, url)
		if code != tc.code || !strings.Contains(body, tc.reason) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.name, code, body, tc.code, tc.reason)
		}
	}
	st := backend.Status().Identity
	if st.Denied != 4 {
		t.Errorf("denied %d, want 4", st.Denied)
	}

	// Dry-run: the same rules, logged and counted, nothing refused.
	replacePolicy(t, m.PolicyFile, meshtest.SecurePolicyBody(caDir, rules("dry-run")))
	meshtest.WaitFor(t, 10*time.Second, "dry-run applied", func() bool {
		code, _ := call(t, audit.NewClient("payments"), "GET", "http://payments/charge/1")
		return code == 200
	})
	before := backend.Status().Identity
	for range 3 {
		if code, body := call(t, audit.NewClient("payments"), "GET", "http://payments/charge/1"); code != 200 {
			t.Fatalf("dry-run refused a request: %d %q", code, body)
		}
	}
	after := backend.Status().Identity
	if after.Denied != before.Denied || after.WouldDeny != before.WouldDeny+3 {
		t.Errorf("dry-run counters went from denied %d, would deny %d to %d, %d; want denied unchanged and 3 more would-deny",
			before.Denied, before.WouldDeny, after.Denied, after.WouldDeny)
	}
}

// A policy reload moves a service from permissive to strict: new
// plaintext connections are refused from then on.
func TestMTLSModeReloads(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "services:\n  payments: {mtls: permissive}\n")
	backend := m.Serve(mesh.Config{Service: "payments"}, whoami)
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	kept := &http.Client{Transport: &http.Transport{}} // keeps its connection open across the reload
	defer kept.CloseIdleConnections()
	for _, c := range []*http.Client{plain, kept} {
		if code, body := call(t, c, "GET", "http://"+backend.Addr+"/"); code != 200 || !strings.Contains(body, "tls=false") {
			t.Fatalf("permissive, plaintext: %d %q", code, body)
		}
	}
	replacePolicy(t, m.PolicyFile, meshtest.SecurePolicyBody(caDir, "services:\n  payments: {mtls: strict}\n"))
	meshtest.WaitFor(t, 10*time.Second, "strict applied to new connections", func() bool {
		code, _ := call(t, plain, "GET", "http://"+backend.Addr+"/")
		return code == http.StatusBadRequest
	})
	// A plaintext connection accepted while permissive is refused too.
	code, body := call(t, kept, "GET", "http://"+backend.Addr+"/")
	if code != http.StatusBadRequest || !strings.Contains(body, "mutual TLS only") {
		t.Fatalf("kept-alive plaintext connection after the switch to strict: %d %q", code, body)
	}
}

// SVIDs renewed every second under load: new handshakes use new SVIDs,
// no request fails.
func TestRotationUnderLoad(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, fmt.Sprintf("version: 1\nmesh: {name: secure, trustDomain: example.org}\nsecurity:\n  identity: {dev: {ca: %q, ttl: 2s}}\n", caDir))
	var mu sync.Mutex
	serials := map[string]bool{}
	var served atomic.Int64
	backend := m.Serve(mesh.Config{Service: "payments"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		serials[r.TLS.PeerCertificates[0].SerialNumber.String()] = true
		mu.Unlock()
		if served.Add(1)%10 == 0 {
			w.Header().Set("Connection", "close") // new connections, new handshakes
		}
	}))
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	firstExpiry := backend.Status().Identity.Expires

	var failed, sent atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	c := orders.NewClient("payments")
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				sent.Add(1)
				resp, err := c.Get("http://payments/")
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed: %v", err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	meshtest.WaitFor(t, 20*time.Second, "client SVIDs renewed three times", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(serials) >= 4 && backend.Status().Identity.Expires.After(firstExpiry)
	})
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	t.Logf("rotation under load: %d requests, %d failed, %d client SVIDs seen by the server", sent.Load(), failed.Load(), len(serials))
	mu.Unlock()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during rotation", failed.Load(), sent.Load())
	}
}

func TestIdentityErrorsSayWhy(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, security, want string
	}{
		{"dev CA missing", fmt.Sprintf("identity: {dev: {ca: %q}}", dir+"/nope"), "weft ca init"},
		{"no Workload API", "identity: {spiffe: {socket: \"unix:///nonexistent/agent.sock\"}}", "is the SPIRE agent running"},
		{"unreadable files", fmt.Sprintf("identity: {files: {cert: %q, key: %q, bundle: %q}}", dir+"/c.pem", dir+"/k.pem", dir+"/b.pem"), "c.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writePolicy(t, "version: 1\nmesh: {name: secure, trustDomain: example.org}\nsecurity:\n  "+tc.security+"\n")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := mesh.Start(ctx, mesh.Config{Service: "payments", PolicyFile: path, Logger: meshtest.New(t).Logger})
			if err == nil {
				n.Close()
				t.Fatal("Start succeeded without an identity")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestPeerIDWithoutIdentity(t *testing.T) {
	if _, ok := mesh.PeerID(context.Background()); ok {
		t.Fatal("PeerID reported a caller for a context without one")
	}
}
