package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
)

func TestMeshTiming(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`version: 1
mesh:
  name: shop
  timing:
    preset: wan
    probeInterval: 4s
    reconnectInterval: 5s
    suspicionMult: 5
`))
	if err != nil {
		t.Fatal(err)
	}
	want := discovery.Timing{Preset: "wan", ProbeInterval: 4 * time.Second, ReconnectInterval: 5 * time.Second, SuspicionMult: 5}
	if p.Mesh.Timing != want {
		t.Errorf("mesh.timing = %+v, want %+v", p.Mesh.Timing, want)
	}
	if p, err := Parse("p.yaml", []byte("version: 1\n")); err != nil || p.Mesh.Timing != (discovery.Timing{}) {
		t.Errorf("no mesh.timing: %+v, %v", p, err)
	}
}

func TestMeshTimingErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"preset: fast", `p.yaml:4:13: mesh.timing.preset: "fast" is not a preset: want "local", "lan" or "wan"`},
		{"probeTimeout: 3s", `p.yaml:5:19: mesh.timing.probeTimeout: probeTimeout 3s must be less than probeInterval 1s`},
		{"gossipInterval: -1s", `p.yaml:5:21: mesh.timing.gossipInterval: -1s is negative`},
		{"gossipInterval: fast", `p.yaml:5:21`},
		{"probeIntervall: 1s", `did you mean "probeInterval"`},
	} {
		src := "version: 1\nmesh:\n  timing:\n    preset: lan\n    " + tc.body + "\n"
		if strings.HasPrefix(tc.body, "preset") {
			src = "version: 1\nmesh:\n  timing:\n    " + tc.body + "\n"
		}
		if strings.HasPrefix(tc.body, "probeTimeout") {
			src = "version: 1\nmesh:\n  timing:\n    preset: lan\n    " + tc.body + "\n"
		}
		_, err := Parse("p.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerror %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

func TestMeshTimingNeedsRestart(t *testing.T) {
	old, err := Parse("p.yaml", []byte("version: 1\nmesh:\n  timing: {preset: lan}\n"))
	if err != nil {
		t.Fatal(err)
	}
	new, err := Parse("p.yaml", []byte("version: 1\nmesh:\n  timing: {preset: wan}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckReload(old, new); err == nil || !strings.Contains(err.Error(), "mesh.timing") || !strings.Contains(err.Error(), "requires a restart") {
		t.Errorf("CheckReload = %v, want mesh.timing to need a restart", err)
	}
}
