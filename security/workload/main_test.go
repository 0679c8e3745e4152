package workload

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain stops the shared SPIRE after the tests and before the leak
// check, so that the check sees only what the package itself left running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(withSPIRE{m}) }

type withSPIRE struct{ m *testing.M }

func (w withSPIRE) Run() int {
	defer stopSPIRE()
	return w.m.Run()
}
