package main

import (
	"os"
	"testing"

	"github.com/weftmesh/weft/internal/leakcheck"
)

// TestMain lets the smoke test start the test binary as either side of a
// mode, as the command starts itself.
func TestMain(m *testing.M) {
	if role, args, ok := sideRole(os.Args[1:]); ok {
		os.Exit(runRole(role, args))
	}
	leakcheck.Main(m)
}
