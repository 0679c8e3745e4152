package mesh

import (
	"net"
	"strings"
	"testing"

	"github.com/weftmesh/weft/internal/policy"
)

// Beyond loopback the admin endpoint is protected even without an
// allow-list; a node without an identity then lets nobody in, and says
// what to configure.
func TestAdminAccessBeyondLoopback(t *testing.T) {
	n := &Node{}
	n.policy.Store(policy.Default())
	if acc := n.adminAccess(true); acc.Protected {
		t.Error("loopback without admin.allow is protected")
	}
	acc := n.adminAccess(false)
	if !acc.Protected || acc.Allowed != nil {
		t.Errorf("beyond loopback without an identity: %+v, want protected, nobody allowed", acc)
	}
	if want := "configure security.identity and admin.allow"; !strings.Contains(acc.Hint, want) {
		t.Errorf("hint %q lacks %q", acc.Hint, want)
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "0.0.0.0:1": false, "10.1.2.3:1": false} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if got := isLoopback(a); got != want {
			t.Errorf("isLoopback(%s) = %v", addr, got)
		}
	}
}
