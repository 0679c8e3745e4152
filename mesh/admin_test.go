package mesh_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestAdminEndpoint(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	m.Serve(mesh.Config{Service: "echo", Version: "v2"}, named(&c, "e"))
	n := m.Start(mesh.Config{Service: "client", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitEndpoints(t, n, "echo", 1)
	base := "http://" + n.AdminAddr()

	fetch := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := fetch("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := fetch("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	code, body := fetch("/debug/weft")
	var st admin.Status
	if err := json.Unmarshal(body, &st); code != 200 || err != nil {
		t.Fatalf("/debug/weft = %d, %v: %s", code, err, body)
	}
	if st.Service != "client" || len(st.Catalog["echo"]) != 1 || st.Catalog["echo"][0].Version != "v2" || st.Catalog["echo"][0].State != "ready" {
		t.Errorf("status does not show the catalog: %s", body)
	}
	if len(st.Endpoints["echo"]) != 1 || len(st.Members) != 2 {
		t.Errorf("status endpoints %v, members %d", st.Endpoints, len(st.Members))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("admin endpoint still answers after Shutdown")
	}
}
