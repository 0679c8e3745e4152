package spiretest

import (
	"testing"

	"github.com/weftmesh/weft/internal/proctest"
)

// Binaries returns the paths of spire-server and spire-agent from the
// environment. When they are not set, the test fails on CI ($CI non-empty),
// where skipping would hide the tests that need SPIRE, and is skipped
// elsewhere.
func Binaries(t testing.TB) (server, agent string) {
	t.Helper()
	paths := proctest.Binaries(t, ServerEnv, AgentEnv)
	return paths[0], paths[1]
}
