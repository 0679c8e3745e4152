package mesh_test

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/internal/proctest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
	"github.com/weftmesh/weft/security/devca"
)

// issue writes a certificate and key for id, from the CA in dir, naming
// the host names given, and returns their paths.
func issue(t *testing.T, dir, id string, ips ...string) (cert, key string) {
	t.Helper()
	ca, err := devca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []net.IP
	for _, s := range ips {
		addrs = append(addrs, net.ParseIP(s))
	}
	svid, err := ca.IssueWithNames(spiffeid.RequireFromString(id), time.Hour, nil, addrs)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), strings.ReplaceAll(strings.TrimPrefix(id, "spiffe://"), "/", "-"))
	if err := devca.WriteSVID(svid, base+".crt", base+".key"); err != nil {
		t.Fatal(err)
	}
	return base + ".crt", base + ".key"
}

// tool runs a standard tool with a deadline and returns its output.
func tool(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// TestStandardToolsAgainstAStrictServer runs the real grpcurl and
// grpc-health-probe against a Weft gRPC server that accepts mutual TLS
// only, as docs/TOOLS.md shows: a client certificate from weft ca issue,
// reflection turned on by the policy, and a server certificate that
// names its address, so that the tools verify the server without
// -insecure.
func TestStandardToolsAgainstAStrictServer(t *testing.T) {
	bins := proctest.Binaries(t, "WEFT_GRPCURL", "WEFT_GRPC_HEALTH_PROBE")
	grpcurl, probe := bins[0], bins[1]
	dir := caDir(t)
	bundle := filepath.Join(dir, devca.CertFile)
	srvCert, srvKey := issue(t, dir, "spiffe://"+meshtest.TrustDomain+"/svc/payments", "127.0.0.1")
	toolCert, toolKey := issue(t, dir, "spiffe://"+meshtest.TrustDomain+"/tools/grpcurl")

	m := meshtest.New(t)
	// The server's identity is the certificate issued above, read from
	// files; its clients' come from the CA.
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: tools, trustDomain: `+meshtest.TrustDomain+`}
security:
  mtls: strict
  identity: {files: {cert: "`+srvCert+`", key: "`+srvKey+`", bundle: "`+bundle+`"}}
services:
  payments: {grpcReflection: true}
`)
	b := serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "p1", calls: &counter{}})
	tls := []string{"-cacert", bundle, "-cert", toolCert, "-key", toolKey}

	out, err := tool(t, grpcurl, append(tls, b.Addr, "list")...)
	if err != nil {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	for _, want := range []string{"shop.Payments", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(out, want) {
			t.Errorf("grpcurl list lacks %s:\n%s", want, out)
		}
	}
	out, err = tool(t, grpcurl, append(tls, "-d", `{"orderId": "o-1", "amountCents": 250}`, b.Addr, "shop.Payments/Charge")...)
	if err != nil || !strings.Contains(out, `"paymentId": "pay-o-1"`) {
		t.Errorf("grpcurl Charge: %v\n%s", err, out)
	}
	out, err = tool(t, probe, "-addr", b.Addr, "-tls", "-tls-ca-cert", bundle, "-tls-client-cert", toolCert, "-tls-client-key", toolKey)
	if err != nil || !strings.Contains(out, "SERVING") {
		t.Errorf("grpc-health-probe: %v\n%s", err, out)
	}
	// Strict means strict: no plaintext, no caller without a certificate.
	if out, err := tool(t, grpcurl, "-plaintext", b.Addr, "list"); err == nil {
		t.Errorf("grpcurl -plaintext reached a strict server:\n%s", out)
	}
	if out, err := tool(t, grpcurl, "-cacert", bundle, b.Addr, "list"); err == nil {
		t.Errorf("grpcurl without a client certificate reached a strict server:\n%s", out)
	}
	if out, err := tool(t, probe, "-addr", b.Addr, "-tls", "-tls-ca-cert", bundle); err == nil {
		t.Errorf("grpc-health-probe without a client certificate reached a strict server:\n%s", out)
	}
}

// Without grpcReflection, a server offers no reflection.
func TestGRPCReflectionIsOptIn(t *testing.T) {
	m := meshtest.New(t)
	b := serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "p1", calls: &counter{}})
	m2 := meshtest.New(t)
	m2.PolicyFile = writePolicy(t, "version: 1\nservices:\n  payments: {grpcReflection: true}\n")
	b2 := serveGRPC(t, m2, mesh.Config{Service: "payments"}, &payments{name: "p2", calls: &counter{}})
	for _, tc := range []struct {
		b    *grpcBackend
		want bool
	}{{b, false}, {b2, true}} {
		got := reflectionOffered(t, tc.b.Addr)
		if got != tc.want {
			t.Errorf("reflection offered %v, want %v", got, tc.want)
		}
	}
}

// reflectionOffered reports whether the plaintext gRPC server at addr
// answers reflection's list of services.
func reflectionOffered(t *testing.T, addr string) bool {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if status.Code(err) == codes.Unimplemented {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range resp.GetListServicesResponse().GetService() {
		if s.Name == "shop.Payments" {
			return true
		}
	}
	t.Fatalf("reflection lists %v", resp)
	return false
}
