package mesh

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
)

// The policy's mesh.timing reaches the gossip layer, under the node's own
// Config.Timing.
func TestTimingFromPolicyAndConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nmesh:\n  timing: {preset: wan, probeInterval: 6s, suspicionMult: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Start(t.Context(), Config{
		Service: "timed", GossipAddr: "127.0.0.1:0", PolicyFile: path,
		Timing: discovery.Timing{ProbeTimeout: 2 * time.Second, SuspicionMult: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	want := discovery.DefaultWANTiming()
	want.ProbeInterval, want.ProbeTimeout, want.SuspicionMult = 6*time.Second, 2*time.Second, 5
	if got := n.members.Timing(); got != want {
		t.Errorf("gossip timing = %+v, want %+v", got, want)
	}

	// Without either, loopback keeps its fast preset.
	n2, err := Start(t.Context(), Config{Service: "fast", GossipAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if got := n2.members.Timing(); got != discovery.DefaultLocalTiming() {
		t.Errorf("loopback timing = %+v", got)
	}
}
