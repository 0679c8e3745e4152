package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// shop is a small mesh on loopback, every node with an admin endpoint:
// loadgen (a client) → checkout → payments ×2. Payments answers 500 to
// paths that start with /fail.
type shop struct {
	m        *meshtest.Mesh
	loadgen  *mesh.Node
	checkout *meshtest.Backend
	payments []*meshtest.Backend
	charged  atomic.Int64
}

func newShop(t *testing.T, policy string) *shop {
	t.Helper()
	s := &shop{m: meshtest.New(t)}
	if policy != "" {
		s.m.PolicyFile = policy
	}
	pay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.charged.Add(1)
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "card declined by a broken backend", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "paid")
	})
	for range 2 {
		s.payments = append(s.payments, s.m.Serve(mesh.Config{Service: "payments", AdminAddr: "127.0.0.1:0"}, pay))
	}
	var checkoutNode atomic.Pointer[mesh.Node]
	s.checkout = s.m.Serve(mesh.Config{Service: "checkout", AdminAddr: "127.0.0.1:0"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := checkoutNode.Load().NewClient("payments").Get("http://payments" + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	checkoutNode.Store(s.checkout.Node)
	s.loadgen = s.m.Start(mesh.Config{Service: "loadgen", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitEndpoints(t, s.loadgen, "checkout", 1)
	meshtest.WaitEndpoints(t, s.checkout.Node, "payments", 2)
	return s
}

// call sends n requests from loadgen to checkout's path.
func (s *shop) call(t *testing.T, n int, path string) {
	t.Helper()
	c := s.loadgen.NewClient("checkout")
	for range n {
		resp, err := c.Get("http://checkout" + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func get(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func meshView(t *testing.T, c *http.Client, base string) admin.MeshView {
	t.Helper()
	code, body := get(t, c, base+"/weft/mesh")
	var v admin.MeshView
	if err := json.Unmarshal(body, &v); code != 200 || err != nil {
		t.Fatalf("/weft/mesh = %d, %v: %s", code, err, body)
	}
	return v
}

func edge(v admin.MeshView, src, dst string) (e struct {
	admin.MeshView
	found bool
	rps   float64
	rate  float64
	p50   float64
	p99   float64
	n     uint64
}) {
	for _, x := range v.Edges {
		if x.Source == src && x.Destination == dst {
			e.found, e.rps, e.rate, e.p50, e.p99, e.n = true, x.RPS, x.SuccessRate, x.P50Ms, x.P99Ms, x.Requests
		}
	}
	return e
}

// The mesh view of any node shows every edge, from the counts of the
// members that made the calls, and the failing edge's success rate.
func TestMeshViewShowsEveryEdge(t *testing.T) {
	s := newShop(t, "")
	s.call(t, 30, "/ok")
	s.call(t, 10, "/fail")
	for _, base := range []string{"http://" + s.loadgen.AdminAddr(), "http://" + s.payments[1].AdminAddr()} {
		// Admin addresses reach each member's catalog by gossip: wait
		// until this node knows every peer's.
		var v admin.MeshView
		meshtest.WaitFor(t, 10*time.Second, base+" sees 3 peers", func() bool {
			v = meshView(t, nil, base)
			return len(v.Peers) == 3
		})
		for _, p := range v.Peers {
			if p.Error != "" {
				t.Errorf("%s: peer %s: %s", base, p.Node, p.Error)
			}
		}
		if len(v.Peers) != 3 {
			t.Errorf("%s: %d peers asked, want 3", base, len(v.Peers))
		}
		lc := edge(v, "loadgen", "checkout")
		cp := edge(v, "checkout", "payments")
		if !lc.found || !cp.found {
			t.Fatalf("%s: edges %+v, want loadgen → checkout and checkout → payments", base, v.Edges)
		}
		if lc.n != 40 || cp.n < 40 || lc.rps <= 0 || cp.rps <= 0 {
			t.Errorf("%s: loadgen → checkout %d requests at %.2f/s, checkout → payments %d at %.2f/s", base, lc.n, lc.rps, cp.n, cp.rps)
		}
		// 10 of 40 failed; checkout → payments may have retried them.
		if lc.rate != 0.75 || cp.rate >= 1 || cp.rate <= 0 {
			t.Errorf("%s: success rates %v and %v, want 0.75 and below 1", base, lc.rate, cp.rate)
		}
		if lc.p50 <= 0 || lc.p99 < lc.p50 {
			t.Errorf("%s: loadgen → checkout p50 %v p99 %v", base, lc.p50, lc.p99)
		}
		svc := map[string]admin.ServiceView{}
		for _, sv := range v.Services {
			svc[sv.Service] = sv
		}
		if p := svc["payments"]; p.Instances != 2 || p.States["ready"] != 2 || p.Served == nil || p.Served.Requests != uint64(s.charged.Load()) {
			t.Errorf("%s: payments = %+v, want 2 ready instances that served %d", base, p, s.charged.Load())
		}
		if l := svc["loadgen"]; l.Health != "client" || l.Clients != 1 {
			t.Errorf("%s: loadgen = %+v, want a client", base, l)
		}
		if c := svc["checkout"]; c.Health != "down" {
			t.Errorf("%s: checkout health %q with a quarter of its requests failing, want down", base, c.Health)
		}
	}
}

// A caller without an admin endpoint sends no counts: its edges come from
// the counts of the callees it called, marked as such.
func TestCalleeCountsCallersWithoutAdminEndpoint(t *testing.T) {
	m := meshtest.New(t)
	checkout := m.Serve(mesh.Config{Service: "checkout", AdminAddr: "127.0.0.1:0"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	loadgen := m.Start(mesh.Config{Service: "loadgen"})
	meshtest.WaitEndpoints(t, loadgen, "checkout", 1)
	c := loadgen.NewClient("checkout")
	for range 7 {
		resp, err := c.Get("http://checkout/ok")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	v := meshView(t, nil, "http://"+checkout.AdminAddr())
	i := slices.IndexFunc(v.Edges, func(e stats.Edge) bool { return e.Source == "loadgen" && e.Destination == "checkout" })
	if i < 0 {
		t.Fatalf("no edge loadgen → checkout: %+v", v.Edges)
	}
	if e := v.Edges[i]; e.Requests != 7 || e.CountedBy != stats.CountedByCallee {
		t.Errorf("loadgen → checkout = %d requests counted by the %s, want 7 counted by the callee", e.Requests, e.CountedBy)
	}
}

// Each member advertises its admin endpoint in the catalog, beside the
// endpoints it serves, and the admin endpoint makes no instance ready.
func TestAdminEndpointIsAdvertised(t *testing.T) {
	s := newShop(t, "")
	for _, in := range meshtest.ReadyInstances(s.loadgen, "payments") {
		ep, ok := in.EndpointFor(admin.Protocol)
		if !ok || ep.Addr == "" {
			t.Errorf("%s advertises no admin endpoint: %+v", in.Node, in.Endpoints)
		}
	}
	st := s.loadgen.Status()
	if st.Local.State != "starting" {
		t.Errorf("a client node with only an admin endpoint is %s", st.Local.State)
	}
	if !strings.Contains(strings.Join(st.Local.Endpoints, " "), "admin://"+s.loadgen.AdminAddr()) {
		t.Errorf("local endpoints %v", st.Local.Endpoints)
	}
}

// writePolicy writes a policy file for a test.
func writePolicy(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sse reads server-sent events from url until ctx ends; each event's name
// and data go to the channel.
func sse(ctx context.Context, t *testing.T, c *http.Client, url string) <-chan [2]string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s = %s: %s", url, resp.Status, b)
	}
	out := make(chan [2]string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		buf := make([]byte, 0, 4096)
		chunk := make([]byte, 4096)
		name := ""
		for {
			n, err := resp.Body.Read(chunk)
			buf = append(buf, chunk[:n]...)
			for {
				i := strings.Index(string(buf), "\n\n")
				if i < 0 {
					break
				}
				block := string(buf[:i])
				buf = buf[i+2:]
				name = "message"
				data := ""
				for _, line := range strings.Split(block, "\n") {
					switch {
					case strings.HasPrefix(line, "event: "):
						name = line[len("event: "):]
					case strings.HasPrefix(line, "data: "):
						data = line[len("data: "):]
					}
				}
				if data != "" {
					select {
					case out <- [2]string{name, data}:
					case <-ctx.Done():
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// The tap streams requests made after it was opened, both directions,
// with the reason for the routing.
func TestTapStreamsRequests(t *testing.T) {
	s := newShop(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := sse(ctx, t, nil, "http://"+s.checkout.AdminAddr()+"/weft/tap?path=/tapped")
	if ev := <-events; ev[0] != "hello" || !strings.Contains(ev[1], s.checkout.Name()) {
		t.Fatalf("first event %v, want hello from %s", ev, s.checkout.Name())
	}
	s.call(t, 1, "/untapped")
	s.call(t, 1, "/tapped/1")
	seen := map[string]bool{}
	for len(seen) < 2 {
		var ev [2]string
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("tap: saw %v before the deadline", seen)
		}
		if ev[0] != "message" {
			continue
		}
		var e struct {
			Direction, Source, Destination, Path, Endpoint, Reason string
			Status                                                 int
		}
		if err := json.Unmarshal([]byte(ev[1]), &e); err != nil {
			t.Fatal(err)
		}
		if e.Path != "/tapped/1" {
			t.Fatalf("the filter let through %s", ev[1])
		}
		seen[e.Direction] = true
		switch e.Direction {
		case "in":
			if e.Source != "loadgen" || e.Destination != "checkout" || e.Status != 200 {
				t.Errorf("inbound event %s", ev[1])
			}
		case "out":
			if e.Destination != "payments" || e.Endpoint == "" || !strings.Contains(e.Reason, "least_request picked "+e.Endpoint) {
				t.Errorf("outbound event %s", ev[1])
			}
		}
	}
	code, body := get(t, nil, "http://"+s.checkout.AdminAddr()+"/weft/tap?status=teapot")
	if code != 400 || !strings.Contains(string(body), "status") {
		t.Errorf("a bad filter: %d %s", code, body)
	}
	fmt.Fprint(io.Discard)
}

func newRequest(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, "GET", url, nil)
}
