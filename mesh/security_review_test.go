package mesh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// Mirrored copies travel over mutual TLS like the request they copy.
func TestMirrorUsesMutualTLS(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, `services:
  echo:
    subsets: {v1: {version: v1}, shadow: {version: shadow}}
    routes:
      - {name: mirrored, match: {pathPrefix: /}, to: {v1: 1}, mirror: {subset: shadow, percent: 100}}
`)
	var shadowTLS, shadowPlain atomic.Int64
	m.Serve(mesh.Config{Service: "echo", Version: "v1"}, whoami)
	m.Serve(mesh.Config{Service: "echo", Version: "shadow"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := mesh.PeerID(r.Context()); ok && r.TLS != nil {
			shadowTLS.Add(1)
		} else {
			shadowPlain.Add(1)
		}
	}))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 2)
	for range 5 {
		if code, _ := call(t, client.NewClient("echo"), "GET", "http://echo/x"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	meshtest.WaitFor(t, 5*time.Second, "five mirrored copies", func() bool { return shadowTLS.Load() == 5 })
	if shadowPlain.Load() != 0 {
		t.Fatalf("%d copies arrived without a verified identity", shadowPlain.Load())
	}
}

// A service with rules refuses an encoded '/', which routers and rules
// could read differently.
func TestAuthorizationRefusesEncodedSlash(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, `services:
  orders: {}
  payments:
    inbound:
      authorization:
        rules: [{from: [orders], paths: ["/public/*"]}]
`)
	m.Serve(mesh.Config{Service: "payments"}, whoami)
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	c := orders.NewClient("payments")
	if code, _ := call(t, c, "GET", "http://payments/public/x"); code != 200 {
		t.Fatalf("allowed path: %d", code)
	}
	req, _ := http.NewRequest("GET", "http://payments/", nil)
	req.URL = &url.URL{Scheme: "http", Host: "payments", Path: "/public/x/settings/admin", RawPath: "/public%2Fx/settings/admin"}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "encoded '/'") {
		t.Fatalf("encoded slash: %d %q, want 400", resp.StatusCode, b)
	}
}

// A server of the user's own that terminates TLS without verifying
// client certificates gets no identity from a self-signed one.
func TestOwnServerDoesNotTrustUnverifiedCertificates(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, `services:
  orders: {}
  payments:
    mtls: permissive   # so that the request reaches the rules
    inbound:
      authorization:
        rules: [{from: [orders]}]
`)
	node := m.Start(mesh.Config{Service: "payments"})
	cert := selfSigned(t, "spiffe://example.org/svc/orders")
	srv := &http.Server{
		Handler:   node.Wrap(whoami),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "spiffe://example.org/svc/payments")}, ClientAuth: tls.RequestClientCert},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(l, "", "")
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}}}
	defer c.CloseIdleConnections()
	code, body := call(t, c, "GET", "https://"+l.Addr().String()+"/")
	if code != http.StatusForbidden || !strings.Contains(body, "no identity") {
		t.Fatalf("self-signed caller: %d %q, want 403 no identity", code, body)
	}
}

// A bare service name the mesh does not know is never resolved by DNS.
func TestUnknownServiceNameIsNotEgress(t *testing.T) {
	m := meshtest.New(t)
	n := m.Start(mesh.Config{Service: "orders"})
	_, err := n.NewClient("nosuch").Get("http://nosuch/")
	if !errors.Is(err, mesh.ErrNoEndpoint) {
		t.Fatalf("err = %v, want ErrNoEndpoint", err)
	}
}

// A catalog entry pointing at a server that accepts connections and never
// answers costs a bounded wait, not the request.
func TestTarpitEndpointIsSkipped(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "")
	genuine := m.Serve(mesh.Config{Service: "payments"}, whoami)
	client := m.Start(mesh.Config{Service: "checkout"})
	forgeEntry(t, genuine.GossipAddr(), "payments")
	meshtest.WaitEndpoints(t, client, "payments", 2)
	start := time.Now()
	for i := range 6 {
		if code, _ := call(t, client.NewClient("payments"), "GET", "http://payments/"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	t.Logf("6 requests with a tarpit in the catalog took %v", time.Since(start).Round(time.Millisecond))
}

func selfSigned(t *testing.T, uri string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(uri)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// forgeEntry announces, over gossip, an instance of service at a tarpit:
// a listener that accepts connections and never says anything. It returns
// the tarpit's address; both stop when the test ends.
func forgeEntry(t *testing.T, seed, service string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c:
			default:
				c.Close()
			}
		}
	}()
	fake, err := discovery.Start(context.Background(), discovery.Config{
		MeshName: "secure",
		BindAddr: "127.0.0.1:0",
		Join:     []string{seed},
		Local: discovery.Instance{Service: service, State: discovery.StateReady, Weight: 1,
			Endpoints: []discovery.Endpoint{{Protocol: "http", Addr: l.Addr().String()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fake.Close()
		l.Close()
		<-done
		close(held)
		for c := range held {
			c.Close()
		}
	})
	return l.Addr().String()
}

// A plaintext caller of a permissive service cannot name itself.
func TestUnverifiedCallerCannotClaimASource(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "services:\n  payments: {mtls: permissive}\n")
	backend := m.Serve(mesh.Config{Service: "payments"}, whoami)
	req, _ := http.NewRequest("GET", "http://"+backend.Addr+"/", nil)
	req.Header.Set("Weft-Source", "orders")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "orders") || !strings.Contains(string(b), "false") {
		t.Fatalf("plaintext caller claiming orders: %q", b)
	}
}
