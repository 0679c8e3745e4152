package main

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// weft tap streams requests made while it runs, filtered, and stops after
// --count events.
func TestTap(t *testing.T) {
	admin, client, _ := runningMesh(t)
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runWeft("tap", admin, "--path", "/tapped", "--direction", "out", "--count", "2")
		done <- result{code, out, errOut}
	}()
	hc := client.NewClient("echo")
	deadline := time.After(20 * time.Second)
	var res result
wait:
	for {
		for _, path := range []string{"/untapped", "/tapped/1"} {
			if resp, err := hc.Get("http://echo" + path); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		select {
		case res = <-done:
			break wait
		case <-deadline:
			t.Fatal("weft tap printed no two events in 20s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if res.code != exitOK || !strings.Contains(res.stderr, "tapping node client-") {
		t.Fatalf("weft tap: exit %d, stderr %q", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), res.stdout)
	}
	for _, l := range lines {
		for _, want := range []string{"out ", "client → echo", "GET /tapped/1", "200", "round_robin picked"} {
			if !strings.Contains(l, want) {
				t.Errorf("line lacks %q: %s", want, l)
			}
		}
	}
	code, _, errOut := runWeft("tap", admin, "--status", "teapot")
	if code != exitFailure || !strings.Contains(errOut, "400 Bad Request") {
		t.Errorf("a bad filter: exit %d, %q", code, errOut)
	}
	code, _, errOut = runWeft("tap", admin, "--cert", "x")
	if code != exitUsage || !strings.Contains(errOut, "go together") {
		t.Errorf("--cert alone: exit %d, %q", code, errOut)
	}
}

func TestDashboardCommand(t *testing.T) {
	admin, _, _ := runningMesh(t)
	var opened string
	defer func(f func(string) error) { openBrowser = f }(openBrowser)
	openBrowser = func(url string) error { opened = url; return nil }
	code, out, errOut := runWeft("dashboard", admin)
	want := "http://" + admin + "/ui/"
	if code != exitOK || strings.TrimSpace(out) != want || opened != want {
		t.Errorf("weft dashboard: exit %d, printed %q, opened %q, stderr %q; want %s", code, out, opened, errOut, want)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if code, _, errOut := runWeft("dashboard", addr, "--no-open"); code != exitFailure || !strings.Contains(errOut, "cannot reach") {
		t.Errorf("no node: exit %d, %q", code, errOut)
	}
}

// weft ca issue writes a certificate for an ID or a service, with the
// host names asked for, that the CA verifies; the snippet weft ca init
// suggests is a valid policy.
func TestCAIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	code, out, errOut := runWeft("ca", "init", dir, "--trust-domain", "example.org")
	if code != exitOK {
		t.Fatalf("ca init: %d %s", code, errOut)
	}
	snippet := "version: 1\n" + out[strings.Index(out, "mesh:\n"):strings.Index(out, "\nFor development only")]
	if _, err := policy.Parse("snippet.yaml", []byte(snippet)); err != nil {
		t.Errorf("the suggested snippet is not a valid policy: %v\n%s", err, snippet)
	}
	out1 := filepath.Join(t.TempDir(), "grpcurl")
	code, out, errOut = runWeft("ca", "issue", dir, "--id", "spiffe://example.org/tools/grpcurl", "--out", out1, "--dns", "localhost", "--ip", "127.0.0.1,::1")
	if code != exitOK {
		t.Fatalf("ca issue: %d %s", code, errOut)
	}
	if !strings.Contains(out, "grpcurl -cacert "+filepath.Join(dir, "ca.crt")) {
		t.Errorf("output shows no grpcurl line:\n%s", out)
	}
	leaf := readCert(t, out1+".crt")
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.org/tools/grpcurl" || leaf.VerifyHostname("localhost") != nil || leaf.VerifyHostname("::1") != nil {
		t.Errorf("certificate names %v %v %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if fi, err := os.Stat(out1 + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	svc := filepath.Join(t.TempDir(), "pay")
	if code, _, errOut := runWeft("ca", "issue", dir, "--service", "payments", "--out", svc); code != exitOK {
		t.Fatalf("ca issue --service: %s", errOut)
	}
	if u := readCert(t, svc+".crt").URIs[0].String(); u != "spiffe://example.org/svc/payments" {
		t.Errorf("--service payments issued %s", u)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--out", svc}, "give one of --id"},
		{[]string{dir, "--id", "spiffe://other.org/x", "--out", svc}, "not in trust domain example.org"},
		{[]string{dir, "--service", "a", "--out", svc, "--ip", "nope"}, `--ip "nope" is not an IP address`},
		{[]string{dir, "--service", "a"}, "--out NAME is required"},
	} {
		code, _, errOut := runWeft(append([]string{"ca", "issue"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("ca issue %q: exit %d, %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, _, errOut := runWeft("ca", "issue", t.TempDir(), "--service", "a", "--out", svc); code != exitFailure || !strings.Contains(errOut, "weft ca init") {
		t.Errorf("no CA: exit %d, %q", code, errOut)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The commands that read a node reach an admin endpoint that requires
// mutual TLS with --cert, --key and --cacert, and say what to do when they
// are missing or the identity is not allowed.
func TestAdminCommandsOverMutualTLS(t *testing.T) {
	_, caDir := meshtest.DevCA(t)
	const ops = "spiffe://" + meshtest.TrustDomain + "/tools/ops"
	m := meshtest.New(t)
	m.PolicyFile = meshtest.SecurePolicy(t, caDir, "admin: {allow: [\""+ops+"\"]}\n")
	node := m.Start(mesh.Config{Service: "client", AdminAddr: "127.0.0.1:0"})
	admin := "https://" + node.AdminAddr()

	creds := func(id string) []string {
		out := filepath.Join(t.TempDir(), "tool")
		if code, _, errOut := runWeft("ca", "issue", caDir, "--id", id, "--out", out); code != exitOK {
			t.Fatalf("ca issue: %d %s", code, errOut)
		}
		return []string{"--cert", out + ".crt", "--key", out + ".key", "--cacert", filepath.Join(caDir, "ca.crt")}
	}
	allowed, other := creds(ops), creds("spiffe://"+meshtest.TrustDomain+"/tools/intruder")

	for _, args := range [][]string{{"status", admin}, {"members", admin}, {"policy", admin}, {"dashboard", admin, "--no-open"}} {
		name := args[0]
		if code, out, errOut := runWeft(append(args, allowed...)...); code != exitOK {
			t.Errorf("weft %s with an allowed identity: exit %d: %s%s", name, code, out, errOut)
		}
		if code, _, errOut := runWeft(args...); code != exitFailure || !strings.Contains(errOut, "requires mutual TLS") || !strings.Contains(errOut, "--cert") {
			t.Errorf("weft %s without a certificate: exit %d, want %d and a word on mutual TLS and --cert: %s", name, code, exitFailure, errOut)
		}
		if code, _, errOut := runWeft(append(args, other...)...); code != exitFailure || !strings.Contains(errOut, "admin.allow") {
			t.Errorf("weft %s with an identity not allowed: exit %d, want %d and a word on admin.allow: %s", name, code, exitFailure, errOut)
		}
	}
	if code, _, errOut := runWeft("status", admin, "--cert", allowed[1]); code != exitUsage || !strings.Contains(errOut, "go together") {
		t.Errorf("weft status with --cert alone: exit %d: %s", code, errOut)
	}
}
