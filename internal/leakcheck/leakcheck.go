// Package leakcheck runs a test binary's tests and then fails it if
// goroutines leaked, as goleak.VerifyTestMain does, allowing for the one
// goroutine memberlist leaves behind for a moment. Test support only.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// memberlistProbe is memberlist's probe of one peer. It waits for its ack
// timer, so it ends up to one probe interval (stretched by the health
// score) after Shutdown returned. A member really leaked shows its other
// goroutines (listeners, the schedule's triggers) too.
const memberlistProbe = "github.com/hashicorp/memberlist.(*Memberlist).probeNode"

// Main runs the tests of a package whose tests start gossip members and
// checks, when they pass, that nothing they started is still running.
// Call it from TestMain.
func Main(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(opts, goleak.IgnoreTopFunction(memberlistProbe))...)
}
