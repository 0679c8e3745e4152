package devca_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/internal/logtest"
	"github.com/weftmesh/weft/security/devca"
)

func TestNewSourceWarnsAboutAReadableKey(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	for _, mode := range []os.FileMode{0o600, 0o644} {
		dir := filepath.Join(t.TempDir(), "ca")
		if _, err := devca.Init(dir, td); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, devca.KeyFile), mode); err != nil {
			t.Fatal(err)
		}
		logger, logs := logtest.New()
		s, err := devca.NewSource(devca.Config{CA: dir}, spiffeid.RequireFromPath(td, "/svc/a"), logger)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		warned := logs.Count("can be read by other users") == 1
		if warned != (mode == 0o644) {
			t.Errorf("key mode %v: warned %v", mode, warned)
		}
	}
}
