package meshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/devca"
)

// TrustDomain is the trust domain of the meshes [SecurePolicy] writes.
const TrustDomain = "example.org"

// DevCA creates a development CA for [TrustDomain] in a temporary
// directory and returns the CA and its directory.
func DevCA(t testing.TB) (*devca.CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := devca.Init(dir, spiffeid.RequireTrustDomainFromString(TrustDomain))
	if err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	return ca, dir
}

// SecurePolicy writes a policy file whose nodes get identities from the
// development CA in caDir, with extra appended (more top-level sections,
// such as services), and returns its path.
func SecurePolicy(t testing.TB, caDir, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(SecurePolicyBody(caDir, extra)), 0o644); err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	return path
}

// SecurePolicyBody returns the text [SecurePolicy] writes, for tests that
// rewrite the file.
func SecurePolicyBody(caDir, extra string) string {
	return fmt.Sprintf("version: 1\nmesh: {name: secure, trustDomain: %s}\nsecurity:\n  identity: {dev: {ca: %q}}\n%s", TrustDomain, caDir, extra)
}
