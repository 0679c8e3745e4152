package discovery

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestIntrudersAreIsolated runs a two-member encrypted mesh next to a
// third process configured differently, which tries to join the mesh and
// to inject its entry, while the mesh tries to join it back. The control
// row, configured correctly, must get in; the others must not, however
// many push/pull rounds pass.
func TestIntrudersAreIsolated(t *testing.T) {
	otherKey := []byte("fedcba9876543210fedcba9876543210")
	tests := []struct {
		name   string
		edit   func(*Config)
		wantIn bool
	}{
		{"control", func(c *Config) {}, true},
		{"wrong key", func(c *Config) { c.Key = otherKey }, false},
		{"missing key", func(c *Config) { c.Key = nil }, false},
		{"other mesh name", func(c *Config) { c.MeshName = "weft-other" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mesh := cluster(t, "alpha", "beta")
			if !waitFor(t, 5*time.Second, func() bool { return converged(mesh...) }) {
				t.Fatal("mesh did not converge")
			}
			cfg := testConfig(t, "intruder")
			tt.edit(&cfg)
			in := start(t, cfg)
			wire, err := encodeEntry(in.Local())
			if err != nil {
				t.Fatal(err)
			}
			before := mesh[0].Stats().DroppedPackets

			// For several push/pull intervals, both sides keep trying.
			window := 4 * testTiming().PushPullInterval
			deadline := time.Now().Add(window)
			tick := time.NewTicker(testTiming().PushPullInterval / 2)
			defer tick.Stop()
			for time.Now().Before(deadline) {
				_, _ = in.ml.Join([]string{mesh[0].Addr(), mesh[1].Addr()})
				_ = in.ml.SendToAddress(memberlist.Address{Addr: mesh[1].Addr()}, wire)
				_, _ = mesh[0].ml.Join([]string{in.Addr()})
				if tt.wantIn && converged(append(mesh, in)...) {
					return
				}
				<-tick.C
			}
			if tt.wantIn {
				t.Fatalf("a correctly configured member did not get in: %v", mesh[0].View().Services())
			}
			for _, m := range mesh {
				if m.View().Has("intruder") || m.Stats().Members != 2 || len(m.Members()) != 2 {
					t.Errorf("%s admitted the intruder: %v %+v", m.Name(), m.View().Services(), m.Members())
				}
			}
			if got := in.View().Services(); !slices.Equal(got, []string{"intruder"}) || in.Stats().Members != 1 {
				t.Errorf("intruder sees %v, %d members", got, in.Stats().Members)
			}
			if after := mesh[0].Stats().DroppedPackets; after <= before {
				t.Errorf("mesh counted no dropped packets (%d -> %d)", before, after)
			}
			if mesh[1].Stats().DroppedPackets == 0 {
				t.Error("injected packet was not counted")
			}
			t.Logf("dropped: mesh %d/%d, intruder %d", mesh[0].Stats().DroppedPackets, mesh[1].Stats().DroppedPackets, in.Stats().DroppedPackets)
		})
	}
}
