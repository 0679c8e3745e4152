package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/internal/hosttest"
)

// The admin endpoint's paths (package admin): health and metrics are open
// wherever the endpoint listens; the others show what the node knows and
// are guarded beyond loopback.
var (
	openAdminPaths    = []string{"/healthz", "/readyz", "/metrics"}
	guardedAdminPaths = []string{"/debug/weft", "/debug/weft?format=json", "/weft/stats", "/weft/mesh", "/weft/tap", "/ui/"}
)

// TestAdminBeyondLoopbackNeedsMutualTLS runs a node whose admin endpoint
// listens on its host's address, with no admin.allow and no identity, and
// one whose endpoint listens on 127.0.0.1. From another host, the first
// answers health and metrics and refuses everything else with a 403 that
// says to use admin.allow; the second answers everything on its own
// host's loopback, and its mesh view reports the first one's refusal.
func TestAdminBeyondLoopbackNeedsMutualTLS(t *testing.T) {
	t.Parallel()
	l := hosttest.New(t, 2)
	h0 := l.Host(0)
	const port = "9090"
	p := l.StartMesh(nil, func(h *hosttest.Host, cfg *hosttest.NodeConfig) {
		if h == h0 {
			cfg.AdminAddr = h.IP.String() + ":" + port
		} else {
			cfg.AdminAddr = "127.0.0.1:" + port
		}
	})
	exposed := "http://" + h0.IP.String() + ":" + port
	local := "http://127.0.0.1:" + port

	for _, path := range openAdminPaths {
		if r := p[1].Get(exposed+path, 0); r.Status != http.StatusOK {
			t.Errorf("h1 GET %s%s: %d %s %q, want 200", exposed, path, r.Status, r.Err, r.Body)
		}
	}
	for _, from := range p {
		for _, path := range guardedAdminPaths {
			r := from.Get(exposed+path, 0)
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "admin.allow") {
				t.Errorf("%s GET %s%s: %d %s %q, want 403 naming admin.allow", from.Host(), exposed, path, r.Status, r.Err, r.Body)
			}
		}
	}

	// On loopback, everything answers to the host's own processes. The tap
	// is a stream that does not end, so it is left out.
	for _, path := range append(openAdminPaths, "/debug/weft", "/debug/weft?format=json", "/weft/stats", "/ui/") {
		if r := p[1].Get(local+path, 0); r.Status != http.StatusOK {
			t.Errorf("h1 GET %s%s: %d %s %q, want 200", local, path, r.Status, r.Err, r.Body)
		}
	}
	r := p[1].Get(local+"/weft/mesh", 0)
	if r.Status != http.StatusOK {
		t.Fatalf("h1 GET %s/weft/mesh: %d %s %q", local, r.Status, r.Err, r.Body)
	}
	var view admin.MeshView
	if err := json.Unmarshal([]byte(r.Body), &view); err != nil {
		t.Fatalf("h1 /weft/mesh: %v: %q", err, r.Body)
	}
	found := false
	for _, peer := range view.Peers {
		if peer.Node == p[0].Node() {
			found = true
			if !strings.Contains(peer.Error, "403") || !strings.Contains(peer.Error, "admin.allow") {
				t.Errorf("h1's mesh view of h0: error %q, want a 403 naming admin.allow", peer.Error)
			}
		}
	}
	if !found {
		t.Errorf("h1's mesh view has no peer %s: %+v", p[0].Node(), view.Peers)
	}
	// Each host has its own loopback: h0 has nothing on 127.0.0.1:9090.
	if r := p[0].Get(local+"/healthz", 0); r.Err == "" {
		t.Errorf("h0 reaches h1's loopback admin endpoint: %d %q", r.Status, r.Body)
	}
}

// TestLoopbackAdminOfAnotherHostIsNotAsked runs two nodes whose admin
// endpoints both listen on 127.0.0.1:9090 of their own hosts, as one
// configuration copied to every host has it. On h1, that address reaches
// h1's own endpoint: h1's mesh view must not ask it for h0's counts
// (which would show h1's calls a second time, as h0's), and says why h0
// is not read.
func TestLoopbackAdminOfAnotherHostIsNotAsked(t *testing.T) {
	t.Parallel()
	l := hosttest.New(t, 2)
	const local = "http://127.0.0.1:9090"
	p := l.StartMesh(nil, func(h *hosttest.Host, cfg *hosttest.NodeConfig) {
		cfg.AdminAddr = "127.0.0.1:9090"
	})
	tr := startTraffic(p[1], http.MethodGet, 20)
	if _, err := hosttest.Await(20*time.Second, func() error {
		if tr.collect(); len(tr.all) < 20 {
			return fmt.Errorf("%d requests answered", len(tr.all))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tr.stop()

	var own stats.Snapshot
	if r := p[1].Get(local+"/weft/stats", 0); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &own) != nil {
		t.Fatalf("h1 GET /weft/stats: %d %s %q", r.Status, r.Err, r.Body)
	}
	var calls uint64
	for _, s := range own.Series {
		if s.Dir == stats.Out && s.Peer == "echo" {
			for _, b := range s.Buckets {
				calls += b.N
			}
		}
	}
	r := p[1].Get(local+"/weft/mesh", 0)
	var view admin.MeshView
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &view) != nil {
		t.Fatalf("h1 GET /weft/mesh: %d %s %q", r.Status, r.Err, r.Body)
	}
	i := slices.IndexFunc(view.Edges, func(e stats.Edge) bool { return e.Source == "echo" && e.Destination == "echo" })
	if i < 0 || calls == 0 {
		t.Fatalf("h1's mesh view has no edge echo → echo, or h1 counted no call (%d): %+v", calls, view.Edges)
	}
	if e := view.Edges[i]; e.Requests != calls || e.CountedBy != stats.CountedByCaller {
		t.Errorf("echo → echo: %d requests counted by the %s; h1 made %d: a request is counted once, by its caller", e.Requests, e.CountedBy, calls)
	}
	want := "listens on loopback on its host " + l.Host(0).IP.String()
	found := false
	for _, peer := range view.Peers {
		if peer.Node == p[0].Node() {
			found = true
			if !strings.Contains(peer.Error, want) {
				t.Errorf("h1's mesh view of h0: error %q, want %q", peer.Error, want)
			}
		}
	}
	if !found {
		t.Errorf("h1's mesh view has no peer %s: %+v", p[0].Node(), view.Peers)
	}
	figure(t, "calls_counted_once", calls)
}
