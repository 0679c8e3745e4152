package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

const (
	// RootValidity is how long the root certificate made by [New] and
	// [Init] is valid.
	RootValidity = 10 * 365 * 24 * time.Hour

	// ClockSkew is how far back [New] and [CA.Issue] date a certificate's
	// NotBefore, so that a peer whose clock is slightly behind accepts it.
	ClockSkew = time.Minute
)

// CA is a development certificate authority for one trust domain: a root
// key and its self-signed certificate. It is immutable and safe for
// concurrent use.
type CA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	key  crypto.Signer
}

// New returns a CA for td, held in memory only, whose root certificate is
// valid for [RootValidity] from now (less [ClockSkew]).
func New(td spiffeid.TrustDomain) (*CA, error) {
	now := time.Now()
	return NewValidity(td, now.Add(-ClockSkew), now.Add(RootValidity))
}

// NewValidity returns a CA for td, held in memory only, whose root
// certificate is valid from notBefore to notAfter (to the second), for
// tests of expired or not-yet-valid authorities.
func NewValidity(td spiffeid.TrustDomain, notBefore, notAfter time.Time) (*CA, error) {
	if td.IsZero() {
		return nil, errors.New("devca: new CA: empty trust domain; name one, such as example.org")
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("devca: new CA: notAfter %v is not after notBefore %v", notAfter, notBefore)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: new CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("devca: new CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Weft development CA"},
			CommonName:   td.Name(),
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		URIs:                  []*url.URL{td.ID().URL()},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devca: new CA: sign root certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: new CA: parse root certificate: %w", err)
	}
	return &CA{td: td, cert: cert, key: key}, nil
}

// TrustDomain returns the trust domain the CA issues identities for.
func (ca *CA) TrustDomain() spiffeid.TrustDomain { return ca.td }

// Certificate returns the CA's root certificate. The caller must not
// modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Bundle returns a new trust bundle holding the CA's root certificate,
// which is what peers verify the CA's SVIDs against. Its Marshal method
// gives the PEM a bundle file holds.
func (ca *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, []*x509.Certificate{ca.cert})
}

// Issue returns a new SVID for id, with a fresh key, valid from
// [ClockSkew] ago until ttl from now, rounded up to the second. The
// validity is cut short at the root certificate's expiry; once the root
// has expired, Issue fails. id must be in the CA's trust domain.
func (ca *CA) Issue(id spiffeid.ID, ttl time.Duration) (*x509svid.SVID, error) {
	return ca.IssueWithNames(id, ttl, nil, nil)
}

// IssueWithNames is [CA.Issue] for a certificate that also names the DNS
// names and IP addresses given, for tools that check a server's host
// name (grpcurl, grpc-health-probe without -tls-no-verify). Mesh peers
// still check only the SPIFFE ID.
func (ca *CA) IssueWithNames(id spiffeid.ID, ttl time.Duration, dnsNames []string, ips []net.IP) (*x509svid.SVID, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("devca: issue %s: ttl must be positive, got %v", id, ttl)
	}
	now := time.Now()
	notAfter := now.Add(ttl)
	if t := notAfter.Truncate(time.Second); t.Before(notAfter) {
		// Certificates hold whole seconds; rounding down could leave a
		// 1s SVID almost no lifetime.
		notAfter = t.Add(time.Second)
	}
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("devca: issue %s: the CA certificate of %s expired at %v; create a new CA with \"weft ca init DIR --trust-domain %s\"",
			id, ca.td, ca.cert.NotAfter, ca.td.Name())
	}
	return ca.issue(id, now.Add(-ClockSkew), notAfter, dnsNames, ips)
}

// IssueValidity returns a new SVID for id, with a fresh key, valid from
// notBefore to notAfter exactly (to the second, as certificates hold),
// whether or not that includes now: tests use it for expired and
// not-yet-valid certificates. id must be in the CA's trust domain.
func (ca *CA) IssueValidity(id spiffeid.ID, notBefore, notAfter time.Time) (*x509svid.SVID, error) {
	return ca.issue(id, notBefore, notAfter, nil, nil)
}

func (ca *CA) issue(id spiffeid.ID, notBefore, notAfter time.Time, dnsNames []string, ips []net.IP) (*x509svid.SVID, error) {
	if id.IsZero() {
		return nil, errors.New("devca: issue: empty SPIFFE ID")
	}
	if !id.MemberOf(ca.td) {
		return nil, fmt.Errorf("devca: issue %s: not in trust domain %s, the only one this CA issues for", id, ca.td)
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("devca: issue %s: notAfter %v is not after notBefore %v", id, notAfter, notBefore)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: issue %s: generate key: %w", id, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("devca: issue %s: %w", id, err)
	}
	// The subject stays empty: the URI SAN is the identity (X509-SVID
	// specification), and x509 then marks the SAN extension critical.
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("devca: issue %s: sign certificate: %w", id, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: issue %s: parse certificate: %w", id, err)
	}
	// The chain holds the leaf only: the root is what peers already trust,
	// through the bundle.
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{leaf}, PrivateKey: key}, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
