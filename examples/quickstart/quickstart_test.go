package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/security"
)

// TestRun runs the whole quickstart for a few seconds and checks what it
// promises: it exits cleanly, prints the table and the midway events, and
// nearly every request succeeds while traffic reaches every service and
// leaves the stopped instances.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ten-node mesh for 8 s")
	}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// 8 s: the drill at the midpoint leaves 4 s for the drained instance to
	// leave, which a busy machine can need (DrainDelay may double).
	err := run(ctx, options{Duration: 8 * time.Second, Rate: 200}, &out)
	text := out.String()
	t.Logf("output:\n%s", text)
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	for _, want := range []string{
		tableHeader,
		"checkout #2 (node checkout-",
		"shuts down gracefully",
		"inventory #2 (node inventory-",
		"is killed",
		"checkout #2 left the mesh after",
		"All nodes shut down gracefully",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	if c := regexp.MustCompile(`(\d+) mutual TLS, (\d+) plaintext, (\d+) refused`).FindStringSubmatch(text); c == nil || c[1] == "0" || c[2] != "0" || c[3] != "0" {
		t.Errorf("connections %v: want only mutual TLS ones", c)
	}

	m := regexp.MustCompile(`sent (\d+) requests .*?; (\d+) succeeded \(([\d.]+)%\)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no summary line with the success rate")
	}
	sent, _ := strconv.Atoi(m[1])
	if rate, _ := strconv.ParseFloat(m[3], 64); rate < 99 {
		t.Errorf("success rate %.2f%%, want at least 99%%", rate)
	}
	// A starved machine sends fewer than the 1600 asked for; none at all
	// means the load never flowed.
	if sent < 100 {
		t.Errorf("sent %d requests in 8 s at 200 req/s, want hundreds", sent)
	}
	for _, svc := range []string{"frontend", "checkout", "payments", "inventory", "v1", "v2"} {
		m := regexp.MustCompile(`\b` + svc + ` (\d+)`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("summary does not say what %s served", svc)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("%s served no request", svc)
		}
	}

	// In the last table, the stopped instances take nothing and the
	// survivors take the whole load: each request of the loadgen reaches
	// one inventory and one checkout, measured over the same period.
	frame := lastFrame(t, text)
	loadRate := frame["loadgen"]
	for inst, want := range map[string]float64{
		"checkout #2":  0,
		"inventory #2": 0,
		"checkout #1":  loadRate,
		"inventory #1": loadRate,
	} {
		got, ok := frame[inst]
		switch {
		case !ok:
			t.Errorf("last frame has no row for %s", inst)
		case want == 0 && got != 0:
			t.Errorf("%s still took %.0f req/s after it was stopped", inst, got)
		case want > 0 && got < 0.8*want-5:
			t.Errorf("%s took %.0f req/s, want about %.0f: the stopped instance's share did not move to it", inst, got, want)
		}
	}
}

// TestRunStartupFailure checks that a shop that cannot start makes run
// fail with an error that says what to do, leaving nothing running.
func TestRunStartupFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var out strings.Builder
	err = run(t.Context(), options{Duration: time.Second, AdminAddr: taken.Addr().String()}, &out)
	if err == nil {
		t.Fatalf("run with the admin address taken succeeded; output:\n%s", out.String())
	}
	t.Logf("run: %v", err)
	if !strings.Contains(err.Error(), `-admin ""`) {
		t.Errorf("error %q does not say how to run without the admin endpoint", err)
	}
}

// lastFrame returns the REQ/S of every row of the last table in text,
// and the loadgen's under "loadgen".
func lastFrame(t *testing.T, text string) map[string]float64 {
	t.Helper()
	i := strings.LastIndex(text, tableHeader)
	if i < 0 {
		t.Fatal("no table in the output")
	}
	rates := make(map[string]float64)
	for _, line := range strings.Split(text[i+len(tableHeader):], "\n")[1:] {
		if m := regexp.MustCompile(`last second: (\d+) req/s`).FindStringSubmatch(line); m != nil {
			rates["loadgen"], _ = strconv.ParseFloat(m[1], 64)
			break
		}
		f := strings.Fields(line)
		if len(f) < 7 {
			t.Fatalf("bad table row %q", line)
		}
		// instance (two words), version, node, address, state, req/s
		rate, err := strconv.ParseFloat(f[6], 64)
		if err != nil {
			t.Fatalf("bad REQ/S in row %q", line)
		}
		rates[f[0]+" "+f[1]] = rate
	}
	return rates
}

// TestPolicyValidates checks that mesh.yaml, as shipped and as embedded,
// is a valid policy that says what the README says.
func TestPolicyValidates(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	t.Setenv(gossipKeyEnv, base64.StdEncoding.EncodeToString(key))

	embedded := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(embedded, embeddedPolicy, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"mesh.yaml", embedded} {
		p, err := policy.Load(path)
		if err != nil {
			t.Fatalf("%s does not validate:\n%v", path, err)
		}
		if p.Mesh.Name != "shop" {
			t.Errorf("%s: mesh.name %q, want shop", path, p.Mesh.Name)
		}
		if string(p.Mesh.GossipKey) != string(key) {
			t.Errorf("%s: gossip key is not the one in $%s", path, gossipKeyEnv)
		}
		if p.Mesh.TrustDomain != trustDomain || p.Security.Identity.Dev == nil || filepath.Base(p.Security.Identity.Dev.CA) != devCADir {
			t.Errorf("%s: identity %+v in %q, want a development CA in %s for %s", path, p.Security.Identity, p.Mesh.TrustDomain, devCADir, trustDomain)
		}
		if p.MTLS("payments") != security.Strict {
			t.Errorf("%s: payments mTLS mode %s, want strict", path, p.MTLS("payments"))
		}
		if p.Admin.Listen != "" {
			t.Errorf("%s: admin.listen %q: every node of the process would bind it", path, p.Admin.Listen)
		}
		for svc, want := range map[string]struct {
			lb      string
			timeout time.Duration
		}{
			"inventory": {"round_robin", 500 * time.Millisecond},
			"payments":  {"least_request", time.Second},
			"checkout":  {"least_request", 2 * time.Second},
		} {
			d := p.Destination(svc)
			if d.LoadBalancer != want.lb || d.Timeout != want.timeout {
				t.Errorf("%s: %s gets %s with %v, want %s with %v", path, svc, d.LoadBalancer, d.Timeout, want.lb, want.timeout)
			}
		}
	}
}

// TestPolicyNeedsKey checks that the policy refuses to load without the
// gossip key, which is why run sets one.
func TestPolicyNeedsKey(t *testing.T) {
	t.Setenv(gossipKeyEnv, "")
	if _, err := policy.Load("mesh.yaml"); err == nil || !strings.Contains(err.Error(), gossipKeyEnv) {
		t.Errorf("Load without $%s: got %v, want an error naming it", gossipKeyEnv, err)
	}
}
