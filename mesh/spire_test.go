package mesh_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/internal/spiretest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// Two services get their identities from a real SPIRE agent's Workload
// API, talk mutual TLS, and keep talking while SPIRE rotates their SVIDs.
func TestSPIREIdentitiesRotateUnderLoad(t *testing.T) {
	server, agent := spiretest.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sp, err := spiretest.Start(ctx, spiretest.Config{ServerBin: server, AgentBin: agent})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	td := sp.TrustDomain()
	// SPIRE backdates SVIDs by 10 s and agents renew at half-life: a 20 s
	// TTL renews about every 5 s.
	for _, svc := range []string{"payments", "orders"} {
		if err := sp.Register(ctx, spiffeid.RequireFromPath(td, "/svc/"+svc), 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, fmt.Sprintf("version: 1\nmesh: {name: spire, trustDomain: %s}\nsecurity:\n  identity: {spiffe: {socket: %q}}\n", td, sp.SocketAddr()))

	var mu sync.Mutex
	seen := map[string]bool{} // client SVID serials the server saw
	var served atomic.Int64
	backend := m.Serve(mesh.Config{Service: "payments"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mesh.PeerID(r.Context())
		mu.Lock()
		seen[r.TLS.PeerCertificates[0].SerialNumber.String()] = true
		mu.Unlock()
		if served.Add(1)%20 == 0 {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, id.String())
	}))
	orders := m.Start(mesh.Config{Service: "orders"})
	meshtest.WaitEndpoints(t, orders, "payments", 1)
	if id := backend.Status().Identity.ID; id != "spiffe://example.org/svc/payments" {
		t.Fatalf("backend identity %s", id)
	}
	c := orders.NewClient("payments")
	code, body := call(t, c, "GET", "http://payments/")
	if code != 200 || body != "spiffe://example.org/svc/orders" {
		t.Fatalf("first call: %d %q", code, body)
	}

	serverExpiry, clientExpiry := backend.Status().Identity.Expires, orders.Status().Identity.Expires
	var sent, failed atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
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
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	start := time.Now()
	meshtest.WaitFor(t, 45*time.Second, "both SVIDs rotated and the new client SVID seen by the server", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return backend.Status().Identity.Expires.After(serverExpiry) && orders.Status().Identity.Expires.After(clientExpiry) && len(seen) >= 2
	})
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	t.Logf("SPIRE rotation under load: %d requests in %v, %d failed, %d client SVIDs seen", sent.Load(), time.Since(start).Round(time.Millisecond), failed.Load(), len(seen))
	mu.Unlock()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), sent.Load())
	}
}
