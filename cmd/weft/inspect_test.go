package main

import (
	"encoding/json"
	weftadmin "github.com/weftmesh/weft/admin"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// runningMesh starts an echo service (two instances, v1 and v2) and a
// client node with an admin endpoint that has made one call, and returns
// the client's admin address.
func runningMesh(t *testing.T) (admin string, client *mesh.Node, echo []*meshtest.Backend) {
	t.Helper()
	m := meshtest.New(t)
	m.PolicyFile = filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(m.PolicyFile, []byte(`version: 1
mesh: {name: shop}
services:
  echo:
    loadBalancer: round_robin
    circuitBreaker: {consecutiveFailures: 3}
    subsets: {v1: {version: v1}, v2: {version: v2}}
    routes: [{name: canary, match: {headers: {x-canary: "1"}}, to: {v2: 100}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	echo = append(echo, m.Serve(mesh.Config{Service: "echo", Version: "v1"}, h), m.Serve(mesh.Config{Service: "echo", Version: "v2", Zone: "eu-1"}, h))
	client = m.Start(mesh.Config{Service: "client", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitEndpoints(t, client, "echo", 2)
	req, _ := http.NewRequest("GET", "http://echo/pay", nil)
	req.Header.Set("x-canary", "1")
	resp, err := client.NewClient("echo").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return client.AdminAddr(), client, echo
}

// row returns the fields of the first line of out that starts with
// first, or nil.
func row(out, first string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	return nil
}

func TestInspectCommands(t *testing.T) {
	admin, client, echo := runningMesh(t)

	code, out, errOut := runWeft("status", admin)
	if code != exitOK {
		t.Fatalf("weft status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"node       " + client.Name(),
		"mesh       shop",
		"state      starting",
		"policy     " + client.Status().Policy.Source,
		"tracing off · metrics push off · access log off",
		"RECENT ROUTING DECISIONS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("weft status lacks %q:\n%s", want, out)
		}
	}
	if r := row(out, "echo"); len(r) < 4 || r[1] != "round_robin" || r[2] != "2/2" {
		t.Errorf("destination row %q:\n%s", r, out)
	}
	// The decision: route canary sent the request to subset v2.
	dec := regexp.MustCompile(`(?m)^\S+\s+echo\s+GET /pay\s+canary\s+v2\s+1\s+` + regexp.QuoteMeta(echo[1].Addr) + `\s+200 ok\s+[0-9.]+ ms$`)
	if !dec.MatchString(out) {
		t.Errorf("weft status shows no decision for the canary route to %s:\n%s", echo[1].Addr, out)
	}

	code, out, _ = runWeft("members", admin, "--json")
	var members []map[string]any
	if err := json.Unmarshal([]byte(out), &members); code != exitOK || err != nil || len(members) != 3 {
		t.Fatalf("weft members --json: exit %d, %v: %s", code, err, out)
	}
	code, out, _ = runWeft("members", admin)
	if r := row(out, client.Name()); code != exitOK || len(r) != 4 || r[2] != "alive" || r[3] != "client" {
		t.Errorf("weft members: row %q:\n%s", r, out)
	}

	code, out, errOut = runWeft("endpoints", "--json", admin, "echo")
	var dest map[string]any
	if err := json.Unmarshal([]byte(out), &dest); code != exitOK || err != nil || dest["loadBalancer"] != "round_robin" {
		t.Fatalf("weft endpoints --json: exit %d, %v: %s%s", code, err, out, errOut)
	}
	code, out, _ = runWeft("endpoints", "http://"+admin+"/", "echo")
	if !strings.HasPrefix(out, "echo: round_robin, 2 ready") || code != exitOK {
		t.Errorf("weft endpoints header:\n%s", out)
	}
	r := row(out, echo[1].Addr)
	// ADDRESS NODE ZONE VERSION SUBSETS WEIGHT IN-FLIGHT LATENCY ms STATE BREAKER
	if len(r) != 11 || r[1] != echo[1].Name() || r[2] != "eu-1" || r[3] != "v2" || r[4] != "v2" || r[5] != "1" || r[6] != "0" || r[9] != "up" || r[10] != "closed" {
		t.Errorf("endpoint row %q:\n%s", r, out)
	}
	if code, _, errOut = runWeft("endpoints", admin, "nope"); code != exitFailure || !strings.Contains(errOut, `knows no service "nope"`) || !strings.Contains(errOut, "echo") {
		t.Errorf("unknown service: exit %d: %s", code, errOut)
	}

	code, out, _ = runWeft("policy", admin)
	for _, want := range []string{"source ", "reloads  0 applied, 0 rejected", "loadBalancer: round_robin", "consecutiveFailures: 3", "gossipEncrypted: false", "attempts: 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("weft policy lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runWeft("policy", admin, "--json")
	var pol map[string]any
	if err := json.Unmarshal([]byte(out), &pol); code != exitOK || err != nil || pol["sha256"] != client.Status().Policy.SHA256 {
		t.Errorf("weft policy --json: exit %d, %v: %s", code, err, out)
	}
	code, out, _ = runWeft("status", admin, "--json")
	var st weftadmin.Status
	if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil || st.Node != client.Name() {
		t.Errorf("weft status --json: exit %d, %v", code, err)
	}
}

func TestInspectErrors(t *testing.T) {
	notWeft := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }))
	defer notWeft.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status"}, exitUsage, "want 1 argument(s), got 0"},
		{[]string{"endpoints", "127.0.0.1:1"}, exitUsage, "want 2 argument(s), got 1"},
		{[]string{"members", "a", "b"}, exitUsage, "want 1 argument(s), got 2"},
		{[]string{"policy", "--yaml", "a"}, exitUsage, "flag provided but not defined: -yaml"},
		{[]string{"status", "127.0.0.1:1"}, exitFailure, "cannot reach the node's admin endpoint"},
		{[]string{"status", "ftp://x"}, exitFailure, "write host:port"},
		{[]string{"members", notWeft.URL}, exitFailure, "did not answer with a Weft status"},
		{[]string{"policy", missing.URL}, exitFailure, "404 Not Found"},
	}
	for _, tt := range tests {
		code, _, errOut := runWeft(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("weft %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	if code, out, _ := runWeft("status", "-h"); code != exitOK || !strings.Contains(out, "Usage: weft status ADMIN [--json]") {
		t.Errorf("weft status -h: exit %d: %s", code, out)
	}
	if code, out, _ := runWeft("help"); code != exitOK || !strings.Contains(out, "endpoints") {
		t.Errorf("weft help lacks the inspect commands: %s", out)
	}
}
