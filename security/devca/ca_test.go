package devca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

var (
	td      = spiffeid.RequireTrustDomainFromString("example.org")
	otherTD = spiffeid.RequireTrustDomainFromString("other.org")
	apiID   = spiffeid.RequireFromPath(td, "/ns/shop/api")
)

func newCA(t *testing.T, td spiffeid.TrustDomain) *devca.CA {
	t.Helper()
	ca, err := devca.New(td)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func leafOf(t *testing.T, svid *x509svid.SVID) *x509.Certificate {
	t.Helper()
	if svid == nil || len(svid.Certificates) != 1 {
		t.Fatalf("SVID %+v: want exactly one certificate", svid)
	}
	return svid.Certificates[0]
}

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if !strings.HasPrefix(err.Error(), "devca: ") {
		t.Errorf("error %q is not prefixed with the package name", err)
	}
}

func TestRootCertificate(t *testing.T) {
	before := time.Now()
	ca := newCA(t, td)
	root := ca.Certificate()
	if ca.TrustDomain() != td {
		t.Errorf("TrustDomain() = %v, want %v", ca.TrustDomain(), td)
	}
	if !root.IsCA || !root.BasicConstraintsValid {
		t.Error("root is not a CA certificate")
	}
	if root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root KeyUsage = %v", root.KeyUsage)
	}
	if len(root.URIs) != 1 || root.URIs[0].String() != "spiffe://example.org" {
		t.Errorf("root URIs = %v, want [spiffe://example.org]", root.URIs)
	}
	if pub, ok := root.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("root key is %T, want ECDSA P-256", root.PublicKey)
	}
	if bits := root.SerialNumber.BitLen(); bits == 0 || bits > 128 {
		t.Errorf("root serial has %d bits, want 1 to 128", bits)
	}
	if life := root.NotAfter.Sub(before); life < devca.RootValidity-time.Second || life > devca.RootValidity+time.Second {
		t.Errorf("root lives %v from now, want %v", life, devca.RootValidity)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if b := ca.Bundle(); b.TrustDomain() != td || !b.HasX509Authority(root) || len(b.X509Authorities()) != 1 {
		t.Errorf("Bundle() = %v with %d authorities, want the root alone", b.TrustDomain(), len(b.X509Authorities()))
	}
}

func TestIssueVerifies(t *testing.T) {
	ca := newCA(t, td)
	before := time.Now()
	svid, err := ca.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, svid)
	id, chains, err := x509svid.Verify(svid.Certificates, ca.Bundle())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id != apiID || svid.ID != apiID {
		t.Errorf("verified ID %v, SVID ID %v, want %v", id, svid.ID, apiID)
	}
	if len(chains) != 1 || len(chains[0]) != 2 || !chains[0][1].Equal(ca.Certificate()) {
		t.Errorf("chains = %v, want leaf then root", chains)
	}
	if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf IsCA=%v KeyUsage=%v", leaf.IsCA, leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("leaf ExtKeyUsage = %v", leaf.ExtKeyUsage)
	}
	if len(leaf.URIs) != 1 || len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("leaf SANs: URIs %v DNS %v IP %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses)
	}
	if skew := before.Sub(leaf.NotBefore); skew < devca.ClockSkew-100*time.Millisecond || skew > devca.ClockSkew+time.Second {
		t.Errorf("NotBefore is %v before issue, want %v", skew, devca.ClockSkew)
	}
	if life := leaf.NotAfter.Sub(before); life < time.Hour || life > time.Hour+2*time.Second {
		t.Errorf("NotAfter is %v after issue, want 1h rounded up to the second", life)
	}
	key, ok := svid.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("private key %T does not match the leaf or is not P-256", svid.PrivateKey)
	}

	again, err := ca.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if leafOf(t, again).SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two SVIDs share a serial number")
	}
	if again.PrivateKey.Public().(*ecdsa.PublicKey).Equal(leaf.PublicKey) {
		t.Error("two SVIDs share a key")
	}
}

func TestIssueShortTTLKeepsWholeLifetime(t *testing.T) {
	ca := newCA(t, td)
	for range 5 {
		before := time.Now()
		svid, err := ca.Issue(apiID, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if left := leafOf(t, svid).NotAfter.Sub(before); left < time.Second-time.Millisecond {
			t.Fatalf("a 1s SVID has %v left", left)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := newCA(t, td)
	foreign := spiffeid.RequireFromPath(otherTD, "/api")
	now := time.Now()

	_, err := ca.Issue(foreign, time.Hour)
	wantErr(t, err, "spiffe://other.org/api", "not in trust domain example.org")
	_, err = ca.IssueValidity(foreign, now, now.Add(time.Hour))
	wantErr(t, err, "not in trust domain example.org")
	_, err = ca.Issue(spiffeid.ID{}, time.Hour)
	wantErr(t, err, "empty SPIFFE ID")
	_, err = ca.Issue(apiID, 0)
	wantErr(t, err, "ttl must be positive")
	_, err = ca.IssueValidity(apiID, now, now)
	wantErr(t, err, "notAfter", "is not after notBefore")
	_, err = devca.New(spiffeid.TrustDomain{})
	wantErr(t, err, "empty trust domain")
	_, err = devca.NewValidity(td, now, now.Add(-time.Second))
	wantErr(t, err, "is not after notBefore")
}

func TestIssueValidity(t *testing.T) {
	ca := newCA(t, td)
	now := time.Now().Truncate(time.Second)
	for _, tc := range []struct {
		name                string
		notBefore, notAfter time.Time
		valid               bool
	}{
		{"expired", now.Add(-2 * time.Hour), now.Add(-time.Hour), false},
		{"not yet valid", now.Add(time.Hour), now.Add(2 * time.Hour), false},
		{"valid", now.Add(-time.Hour), now.Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := ca.IssueValidity(apiID, tc.notBefore, tc.notAfter)
			if err != nil {
				t.Fatal(err)
			}
			leaf := leafOf(t, svid)
			if !leaf.NotBefore.Equal(tc.notBefore) || !leaf.NotAfter.Equal(tc.notAfter) {
				t.Errorf("validity %v..%v, want %v..%v", leaf.NotBefore, leaf.NotAfter, tc.notBefore, tc.notAfter)
			}
			_, _, err = x509svid.Verify(svid.Certificates, ca.Bundle())
			if tc.valid && err != nil {
				t.Errorf("Verify: %v", err)
			}
			if !tc.valid && (err == nil || !strings.Contains(err.Error(), "expired or is not yet valid")) {
				t.Errorf("Verify = %v, want an expired or not yet valid error", err)
			}
		})
	}
}

func TestVerifyRejectsOtherAuthorities(t *testing.T) {
	trusted := newCA(t, td)

	impostor := newCA(t, td) // same trust domain, another key
	svid, err := impostor.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, trusted.Bundle()); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("SVID of an untrusted CA: Verify = %v, want an unknown authority error", err)
	}

	other := newCA(t, otherTD)
	svid, err = other.Issue(spiffeid.RequireFromPath(otherTD, "/api"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, trusted.Bundle()); err == nil || !strings.Contains(err.Error(), "could not get X509 bundle") {
		t.Errorf("SVID of another trust domain: Verify = %v, want a missing bundle error", err)
	}
}

func TestIssueBoundedByRoot(t *testing.T) {
	now := time.Now()
	ca, err := devca.NewValidity(td, now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	svid, err := ca.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := leafOf(t, svid).NotAfter, ca.Certificate().NotAfter; !got.Equal(want) {
		t.Errorf("NotAfter = %v, want the root's %v", got, want)
	}

	expired, err := devca.NewValidity(td, now.Add(-2*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = expired.Issue(apiID, time.Hour)
	wantErr(t, err, "CA certificate of example.org expired", "weft ca init")
}
