package chaos

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/weftmesh/weft/admin"
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
