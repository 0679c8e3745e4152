package files

import (
	"os"
	"testing"

	"github.com/weftmesh/weft/internal/logtest"
)

func TestNewWarnsAboutAReadableKey(t *testing.T) {
	ca := newCA(t, "root")
	for _, mode := range []os.FileMode{0o600, 0o644} {
		cfg := paths(t)
		writeAll(t, cfg, ca.leaf(t), ca)
		if err := os.Chmod(cfg.Key, mode); err != nil {
			t.Fatal(err)
		}
		logger, logs := logtest.New()
		s, err := New(cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if warned := logs.Count("can be read by other users") == 1; warned != (mode == 0o644) {
			t.Errorf("key mode %v: warned %v", mode, warned)
		}
	}
}
