package spiretest

import (
	"os"
	"testing"
)

// Binaries returns the paths of spire-server and spire-agent from the
// environment. When they are not set, the test fails on CI ($CI non-empty),
// where skipping would hide the tests that need SPIRE, and is skipped
// elsewhere.
func Binaries(t testing.TB) (server, agent string) {
	t.Helper()
	server, agent = os.Getenv(ServerEnv), os.Getenv(AgentEnv)
	if server != "" && agent != "" {
		return server, agent
	}
	const hint = "$" + ServerEnv + " and $" + AgentEnv + " are not set: run eval \"$(scripts/build-tools)\" first"
	if os.Getenv("CI") != "" {
		t.Fatalf("spiretest: %s", hint)
	}
	t.Skipf("spiretest: %s", hint)
	return "", ""
}
