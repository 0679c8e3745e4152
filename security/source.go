package security

import (
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Source supplies a node's X.509 SVID and the bundles its peers are
// verified against. Implementations are safe for concurrent use and never
// block: TLS handshakes call them on every connection. An SVID returned
// once may be replaced at any time by a newer one; callers must not cache
// it across handshakes.
type Source interface {
	// GetX509SVID returns the current SVID.
	GetX509SVID() (*x509svid.SVID, error)
	// GetX509BundleForTrustDomain returns the authorities trusted for td,
	// or an error when td is not trusted at all.
	GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error)
	// Close stops the source's background work (renewal, watching). The
	// last SVID stays readable.
	Close() error
}
