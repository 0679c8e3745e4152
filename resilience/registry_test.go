package resilience_test

import (
	"slices"
	"testing"

	_ "github.com/weftmesh/weft/internal/engine" // registers the built-in balancers
	"github.com/weftmesh/weft/resilience"
)

func TestRegistryHoldsEveryBalancer(t *testing.T) {
	want := []string{"round_robin", "least_request", "peak_ewma", "ring_hash", "random"}
	if got := resilience.Names(); !slices.Equal(got, want) {
		t.Fatalf("registered balancers %v, want %v", got, want)
	}
	for _, name := range want {
		b, ok := resilience.Lookup(name)
		if !ok || b.Name() != name {
			t.Fatalf("Lookup(%q) = %v, %v", name, b, ok)
		}
		_, hashing := b.(resilience.Hashing)
		if hashing != (name == "ring_hash") {
			t.Errorf("%s: Hashing = %v", name, hashing)
		}
		if b.New(resilience.BuildOptions{}).Build(nil) == nil {
			t.Errorf("%s: Build returned no picker", name)
		}
	}
	if _, ok := resilience.Lookup("fastest"); ok {
		t.Error("an unregistered name was found")
	}
}
