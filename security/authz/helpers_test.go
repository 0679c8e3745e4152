package authz_test

import (
	"errors"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/authz"
)

var local = spiffeid.RequireTrustDomainFromString("example.org")

// idOf maps a service to spiffe://example.org/svc/<name>, as a mesh with
// that ID template would; "ghost" has no ID.
func idOf(service string) (spiffeid.ID, error) {
	if service == "ghost" {
		return spiffeid.ID{}, errGhost
	}
	return spiffeid.FromSegments(local, "svc", service)
}

var errGhost = errors.New("no such service")

func id(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }

func mustCompile(t testing.TB, c authz.Config) *authz.Policy {
	t.Helper()
	p, err := authz.Compile(c, local, idOf)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}
