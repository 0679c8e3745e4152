package devca_test

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

// Many nodes of one process share a CA: the development warning is given
// once per CA, not once per node.
func TestDevelopmentWarningOncePerCA(t *testing.T) {
	ca, other := newCA(t, td), newCA(t, td)
	logs := &recorder{}
	for _, c := range []*devca.CA{ca, ca, ca, other} {
		s, err := devca.NewSourceFromCA(c, apiID, 0, slog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		closeSource(t, s)
	}
	if w := logs.warnings("DEVELOPMENT CA"); len(w) != 2 {
		t.Errorf("%d development CA warnings for 2 CAs, want 2: %q", len(w), w)
	}
}

// A certificate for a tool that checks host names names them, and is
// still an SVID peers verify by its SPIFFE ID.
func TestIssueWithNames(t *testing.T) {
	ca := newCA(t, td)
	svid, err := ca.IssueWithNames(apiID, time.Hour, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if id, _, err := x509svid.Verify(svid.Certificates, ca.Bundle()); err != nil || id != apiID {
		t.Errorf("Verify = %v, %v", id, err)
	}
}
