package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the smoke test start the test binary as either side of a
// mode, as the command starts itself.
func TestMain(m *testing.M) {
	if role, args, ok := sideRole(os.Args[1:]); ok {
		os.Exit(runRole(role, args))
	}
	goleak.VerifyTestMain(m)
}
