package security_test

import (
	"github.com/weftmesh/weft/internal/logtest"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/security"
)

// An SVID that is not renewed is warned about while it still works.
func TestIdentityWarnsBeforeExpiry(t *testing.T) {
	ca := newCA(t, td)
	now := time.Now()
	// Five seconds left and no renewal coming: a warning once a third of
	// that is left, whatever the backdated NotBefore says.
	svid, err := ca.IssueValidity(payments, now.Add(-time.Minute), now.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := logtest.New()
	tmpl, err := security.ParseTemplate("", td)
	if err != nil {
		t.Fatal(err)
	}
	id := security.NewIdentity(newSource(svid, ca.Bundle()), payments, tmpl, logger)
	defer id.Close()

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "was not renewed in time") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning before expiry; logs: %q", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Errorf("%d warnings, want one per SVID", got)
	}
	if exp := id.Expiry(); !exp.Equal(svid.Certificates[0].NotAfter) {
		t.Errorf("Expiry %v, want %v", exp, svid.Certificates[0].NotAfter)
	}
	c, err := id.ClientTLS("orders")
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := id.ClientTLS("orders"); c2 != c {
		t.Error("ClientTLS returned a new configuration for the same service")
	}
}

// A provider that switches to an SVID of another ID is not followed.
func TestIdentityKeepsItsID(t *testing.T) {
	ca := newCA(t, td)
	src := newSource(issue(t, ca, payments), ca.Bundle())
	tmpl, _ := security.ParseTemplate("", td)
	logger, logs := logtest.New()
	id := security.NewIdentity(src, payments, tmpl, logger)
	defer id.Close()
	good, _ := id.Source().GetX509SVID()

	src.svid.Store(issue(t, ca, orders))
	got, err := id.Source().GetX509SVID()
	if err != nil || got != good {
		t.Fatalf("after the provider switched IDs: %v, %v; want the last payments SVID", got.ID, err)
	}
	if !strings.Contains(logs.String(), "another ID") {
		t.Errorf("the switch was not logged: %q", logs.String())
	}
	renewed := issue(t, ca, payments)
	src.svid.Store(renewed)
	if got, _ := id.Source().GetX509SVID(); got != renewed {
		t.Error("a renewed SVID with the right ID was not taken")
	}
}
