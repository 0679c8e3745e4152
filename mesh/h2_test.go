package mesh_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// protoMesh is a mesh whose "echo" service is called with protocol, in
// plaintext or over mutual TLS.
func protoMesh(t testing.TB, protocol string, mtls bool, extra string) *meshtest.Mesh {
	t.Helper()
	services := fmt.Sprintf("services:\n  echo: {protocol: %s%s}\n", protocol, extra)
	m := meshtest.New(t)
	if mtls {
		_, caDir := meshtest.DevCA(t)
		m.PolicyFile = meshtest.SecurePolicy(t, caDir, services)
	} else {
		m.PolicyFile = writePolicy(t, "version: 1\nmesh: {name: test}\n"+services)
	}
	return m
}

// countingBackend serves h for cfg like meshtest's Serve, counting the
// connections its server accepts.
func countingBackend(t *testing.T, m *meshtest.Mesh, cfg mesh.Config, h http.Handler) *atomic.Int64 {
	t.Helper()
	n := m.Start(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}}
	done := make(chan error, 1)
	go func() { done <- n.Serve(srv, l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return &accepted
}

// protoHandler answers with the protocol and identity it was called with.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	alpn := ""
	if r.TLS != nil {
		alpn = r.TLS.NegotiatedProtocol
	}
	id, _ := mesh.PeerID(r.Context())
	fmt.Fprintf(w, "%d %q %v", r.ProtoMajor, alpn, id)
})

// A service's policy chooses HTTP/2 or HTTP/1.1 for the calls to it: h2
// is negotiated by ALPN over mutual TLS and spoken with prior knowledge
// (h2c) in plaintext, and the caller's identity is known either way.
func TestHTTP2NegotiatedPerService(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		mtls     bool
		want     string
	}{
		{"h2", false, `2 "" `},
		{"http/1.1", false, `1 "" `},
		{"h2", true, `2 "h2" spiffe://example.org/svc/client`},
		{"http/1.1", true, `1 "http/1.1" spiffe://example.org/svc/client`},
	} {
		t.Run(fmt.Sprintf("%s mtls=%v", tc.protocol, tc.mtls), func(t *testing.T) {
			m := protoMesh(t, tc.protocol, tc.mtls, "")
			m.Serve(mesh.Config{Service: "echo"}, protoHandler)
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 1)
			resp, err := client.NewClient("echo").Get("http://echo/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := strings.TrimSpace(string(body)); got != strings.TrimSpace(tc.want) {
				t.Errorf("server saw %q, want %q", got, tc.want)
			}
			if wantMajor := int(tc.want[0] - '0'); resp.ProtoMajor != wantMajor {
				t.Errorf("response over HTTP/%d, want HTTP/%d", resp.ProtoMajor, wantMajor)
			}
		})
	}
}

// Over HTTP/2 a client's concurrent requests to one endpoint share one
// connection; over HTTP/1.1 each needs its own.
func TestHTTP2MultiplexesOneConnectionPerEndpoint(t *testing.T) {
	const concurrent = 16
	for _, tc := range []struct {
		protocol string
		mtls     bool
	}{{"h2", false}, {"h2", true}, {"http/1.1", false}} {
		t.Run(fmt.Sprintf("%s mtls=%v", tc.protocol, tc.mtls), func(t *testing.T) {
			m := protoMesh(t, tc.protocol, tc.mtls, "")
			// Every request waits until all are in flight at once.
			var arrived sync.WaitGroup
			arrived.Add(concurrent)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			conns := countingBackend(t, m, mesh.Config{Service: "echo"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived.Done()
				select {
				case <-all:
				case <-time.After(10 * time.Second):
				}
				fmt.Fprint(w, r.ProtoMajor)
			}))
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 1)
			hc := client.NewClient("echo")
			var wg sync.WaitGroup
			errs := make(chan error, concurrent)
			for range concurrent {
				wg.Go(func() {
					if _, err := get(hc, "http://echo/"); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			select {
			case <-all:
			default:
				t.Fatal("the requests were never all in flight at once")
			}
			got := conns.Load()
			if tc.protocol == "h2" && got != 1 {
				t.Errorf("%d concurrent HTTP/2 requests used %d connections, want 1", concurrent, got)
			}
			if tc.protocol == "http/1.1" && got != concurrent {
				t.Errorf("%d concurrent HTTP/1.1 requests used %d connections, want %d", concurrent, got, concurrent)
			}
		})
	}
}

// upgradeEcho answers a request that upgrades its connection by echoing
// what the client then writes, and any other request with its protocol.
var upgradeEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		fmt.Fprint(w, r.ProtoMajor)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot upgrade over HTTP/"+fmt.Sprint(r.ProtoMajor)+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	rw.Flush()
	line, _ := rw.ReadString('\n')
	fmt.Fprintf(rw, "echo over HTTP/%d: %s", r.ProtoMajor, line)
	rw.Flush()
})

// A request that upgrades its connection (WebSocket and the like) goes
// over HTTP/1.1 to a service called over HTTP/2, and the service's other
// requests stay on HTTP/2.
func TestUpgradeStaysOnHTTP1UnderHTTP2(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		t.Run(fmt.Sprintf("mtls=%v", mtls), func(t *testing.T) {
			m := protoMesh(t, "h2", mtls, "")
			m.Serve(mesh.Config{Service: "echo"}, upgradeEcho)
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 1)
			hc := client.NewClient("echo")

			req, _ := http.NewRequest("GET", "http://echo/ws", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "echo")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("upgrade answered %s: %s", resp.Status, b)
			}
			rw, ok := resp.Body.(io.ReadWriteCloser)
			if !ok {
				t.Fatalf("the upgraded body %T cannot be written to", resp.Body)
			}
			if _, err := io.WriteString(rw, "ping\n"); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(rw).ReadString('\n')
			rw.Close()
			if want := "echo over HTTP/1: ping\n"; line != want || err != nil {
				t.Errorf("upgraded connection answered %q (%v), want %q", line, err, want)
			}
			if body, err := get(hc, "http://echo/"); body != "2" || err != nil {
				t.Errorf("a plain request after the upgrade went over HTTP/%s (%v), want 2", body, err)
			}
		})
	}
}

// Retries, outlier detection and breakers judge HTTP/2 attempts as they
// judge HTTP/1.1 ones: a 5xx is retried elsewhere and the failing
// endpoint taken out of picking; a crashed endpoint's refused
// connections are retried elsewhere.
func TestHTTP2RetriesAndBreakers(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		t.Run(fmt.Sprintf("mtls=%v", mtls), func(t *testing.T) {
			m := protoMesh(t, "h2", mtls, ", loadBalancer: round_robin, retries: {attempts: 2, on: [connect-failure, 5xx], backoff: {base: 1ms, max: 2ms}}, circuitBreaker: {consecutiveFailures: 3, openFor: 30s}")
			var c counter
			var broken atomic.Int64
			var major atomic.Int64
			counted := func(name string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					major.Store(int64(r.ProtoMajor))
					named(&c, name).ServeHTTP(w, r)
				})
			}
			m.Serve(mesh.Config{Service: "echo"}, counted("good0"))
			crashing := m.Serve(mesh.Config{Service: "echo"}, counted("good1"))
			m.Serve(mesh.Config{Service: "echo"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				broken.Add(1)
				http.Error(w, "broken", http.StatusInternalServerError)
			}))
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 3)
			hc := client.NewClient("echo")
			for i := range 150 {
				if _, err := get(hc, "http://echo/"); err != nil {
					t.Fatalf("request %d failed while healthy endpoints remained: %v", i, err)
				}
			}
			if n := broken.Load(); n > 6 {
				t.Errorf("broken endpoint saw %d requests, want its breaker open after 3 failures", n)
			}
			if major.Load() != 2 {
				t.Errorf("requests went over HTTP/%d, want 2", major.Load())
			}
			// A crash breaks the multiplexed connection: what was picked
			// for it goes elsewhere.
			if err := crashing.Close(); err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				if body, err := get(hc, "http://echo/"); err != nil || body != "good0" {
					t.Fatalf("request %d after the crash: %q, %v", i, body, err)
				}
			}
		})
	}
}
