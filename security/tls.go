package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Errors a handshake can fail with, matched with errors.Is.
var (
	// ErrNoPeerCertificate: the peer sent no certificate, so it has no
	// identity to check.
	ErrNoPeerCertificate = errors.New("peer presented no certificate")
	// ErrWrongPeer: the peer proved an identity, but not the one expected
	// of the service dialled.
	ErrWrongPeer = errors.New("peer is not the service dialled")
)

// ServerTLS returns the configuration servers accept mesh connections
// with: the newest SVID of src, a client certificate required and verified
// against src's bundles. Which verified peers may do what is decided later,
// per request, by authorization. It offers HTTP/2 and HTTP/1.1 by ALPN,
// so that each client speaks the one its policy asks for.
func ServerTLS(src Source) *tls.Config {
	certs := &certCache{src: src}
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return certs.get() },
		// Verified in VerifyConnection rather than VerifyPeerCertificate:
		// Go calls it on resumed sessions too.
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := VerifyPeer(src, cs.PeerCertificates)
			return err
		},
		SessionTicketsDisabled: true,
		NextProtos:             []string{"h2", "http/1.1"},
	}
}

// ClientTLS returns the configuration a client dials an instance of a
// service with: src's newest SVID as the client certificate, and a server
// that must present exactly want. It asks for HTTP/1.1 by ALPN; a client
// that speaks HTTP/2 offers h2 in a clone. There is no host name check: the SPIFFE
// ID replaces it, so an address from a stale or forged catalog entry is
// refused unless the server there really is want.
func ClientTLS(src Source, want spiffeid.ID) *tls.Config {
	certs := &certCache{src: src}
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return certs.get() },
		InsecureSkipVerify:   true, // the chain and ID are verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := VerifyPeer(src, cs.PeerCertificates)
			if err != nil {
				return err
			}
			if id != want {
				return fmt.Errorf("security: server presented %s, want %s: %w", id, want, ErrWrongPeer)
			}
			return nil
		},
		NextProtos: []string{"http/1.1"},
	}
}

// VerifyPeer verifies a peer's certificate chain, leaf first, against the
// bundle src holds for the leaf's trust domain, and returns the SPIFFE ID
// it proves.
func VerifyPeer(src Source, chain []*x509.Certificate) (spiffeid.ID, error) {
	if len(chain) == 0 {
		return spiffeid.ID{}, fmt.Errorf("security: %w", ErrNoPeerCertificate)
	}
	id, _, err := x509svid.Verify(chain, src)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("security: peer certificate rejected: %w", err)
	}
	return id, nil
}

// PeerID returns the SPIFFE ID a verified TLS peer presented.
func PeerID(cs *tls.ConnectionState) (spiffeid.ID, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return spiffeid.ID{}, false
	}
	id, err := x509svid.IDFromCert(cs.PeerCertificates[0])
	return id, err == nil
}

// certCache turns the source's SVID into a tls.Certificate once per SVID
// rather than once per handshake.
type certCache struct {
	src  Source
	last atomic.Pointer[cachedCert]
}

type cachedCert struct {
	svid *x509svid.SVID
	cert *tls.Certificate
}

func (c *certCache) get() (*tls.Certificate, error) {
	svid, err := c.src.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("security: no SVID to present: %w", err)
	}
	if l := c.last.Load(); l != nil && l.svid == svid {
		return l.cert, nil
	}
	cert := &tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	c.last.Store(&cachedCert{svid: svid, cert: cert})
	return cert, nil
}
