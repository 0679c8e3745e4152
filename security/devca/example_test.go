package devca_test

import (
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

// A test mints an SVID and checks it the way a peer would.
func Example() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca, err := devca.New(td)
	if err != nil {
		fmt.Println(err)
		return
	}
	svid, err := ca.Issue(spiffeid.RequireFromPath(td, "/api"), time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _, err := x509svid.Verify(svid.Certificates, ca.Bundle())
	fmt.Println(id, err)
	// Output: spiffe://example.org/api <nil>
}
