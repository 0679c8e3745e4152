package files

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// snapshot is one consistent identity: an SVID and the bundle it was
// verified against. It is never modified after it is built, so readers
// share it without locks.
type snapshot struct {
	svid   *x509svid.SVID
	bundle *x509bundle.Bundle
	sum    digest
}

// digest identifies the content of the three files, so that a rewrite with
// identical bytes is not a reload and a broken state is reported once.
type digest [sha256.Size]byte

// contents holds the bytes of the three files as read in one pass.
type contents struct {
	cert, key, bundle []byte
}

// read reads the three files. The digest covers every file, or the read
// error in place of a file that could not be read, so that it tells apart
// distinct broken states too.
func read(c Config) (contents, digest, error) {
	var (
		out  contents
		errs []error
		h    = sha256.New()
	)
	for _, f := range []struct {
		what, path string
		dst        *[]byte
	}{
		{"cert", c.Cert, &out.cert},
		{"key", c.Key, &out.key},
		{"bundle", c.Bundle, &out.bundle},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			b = []byte("error: " + err.Error())
			errs = append(errs, fmt.Errorf("files: cannot read %s file %q: %w; check the path in security.identity.files.%s and that this process may read it", f.what, f.path, err, f.what))
		}
		// Length prefixes keep the file boundaries in the digest.
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
		*f.dst = b
	}
	var sum digest
	h.Sum(sum[:0])
	return out, sum, errors.Join(errs...)
}

// parse builds a snapshot from the files' contents and checks that the
// SVID chains to the bundle. Every error names the file at fault and says
// how to fix it.
func parse(c Config, in contents, sum digest) (*snapshot, error) {
	certs, err := parseChain(in.cert)
	if err != nil {
		return nil, fmt.Errorf("files: cert file %q: %w: it must hold the PEM certificate chain, leaf first", c.Cert, err)
	}
	leaf := certs[0]
	if err := checkSPIFFEID(leaf); err != nil {
		return nil, fmt.Errorf("files: cert file %q: leaf certificate (serial %s, subject %q) %w", c.Cert, serial(leaf), leaf.Subject.String(), err)
	}
	key, err := parseKey(in.key)
	if err != nil {
		return nil, fmt.Errorf("files: key file %q: %w", c.Key, err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("files: key file %q does not match the leaf certificate in %q (serial %s): write the private key of that certificate; during a rotation this clears once both files are written", c.Key, c.Cert, serial(leaf))
	}

	der := make([]byte, 0, len(certs)*1024)
	for _, cert := range certs {
		der = append(der, cert.Raw...)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("files: key file %q: cannot use the key: %w", c.Key, err)
	}
	svid, err := x509svid.ParseRaw(der, pkcs8)
	if err != nil {
		// The checks above catch the common cases; what is left is a
		// certificate that breaks the SPIFFE X.509-SVID rules.
		return nil, fmt.Errorf("files: cert file %q: not a valid X.509 SVID: %w: reissue it as a SPIFFE leaf (not a CA, digitalSignature key usage)", c.Cert, err)
	}

	authorities, err := parseBundle(in.bundle)
	if err != nil {
		return nil, fmt.Errorf("files: bundle file %q: %w", c.Bundle, err)
	}
	if err := checkValidity(leaf, time.Now()); err != nil {
		return nil, fmt.Errorf("files: cert file %q: leaf certificate (%s, serial %s) %w", c.Cert, svid.ID, serial(leaf), err)
	}
	bundle := x509bundle.FromX509Authorities(svid.ID.TrustDomain(), authorities)
	if _, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil {
		return nil, fmt.Errorf("files: the SVID in cert file %q (%s, serial %s) does not chain to the CA certificates in bundle file %q: %w: the bundle must hold the root that issued it, and any intermediates must follow the leaf in the cert file", c.Cert, svid.ID, serial(leaf), c.Bundle, err)
	}
	return &snapshot{svid: svid, bundle: bundle, sum: sum}, nil
}

// checkValidity explains an expired or not yet valid leaf, which
// x509svid.Verify would report as a failure to chain.
func checkValidity(leaf *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("is not valid before %s: check this node's clock; a rotated certificate is picked up once it becomes valid", leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return fmt.Errorf("expired at %s: the tool that writes it has not renewed it; check that it is running", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseCerts returns the CERTIFICATE blocks of b in order, and the types
// of the other blocks, which are skipped so that a combined cert-and-key
// file works.
func parseCerts(b []byte) (certs []*x509.Certificate, others []string, err error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return certs, others, nil
		}
		if block.Type != "CERTIFICATE" {
			others = append(others, block.Type)
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate %d cannot be parsed: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
}

// parseChain returns the certificates of a cert file, leaf first.
func parseChain(b []byte) ([]*x509.Certificate, error) {
	certs, others, err := parseCerts(b)
	switch {
	case err != nil:
		return nil, err
	case len(certs) > 0:
		return certs, nil
	case len(others) == 0:
		return nil, errors.New("no PEM block found")
	}
	return nil, fmt.Errorf("no CERTIFICATE PEM block found (found %s)", strings.Join(others, ", "))
}

// parseBundle returns the CA certificates of a bundle file.
func parseBundle(b []byte) ([]*x509.Certificate, error) {
	const fix = "it must hold the PEM CA certificates trusted for the trust domain"
	certs, others, err := parseCerts(b)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s", err, fix)
	case len(certs) > 0:
		return certs, nil
	case len(others) == 0:
		return nil, fmt.Errorf("no PEM block found: %s", fix)
	}
	return nil, fmt.Errorf("bundle has no certificates (found only %s): %s", strings.Join(others, ", "), fix)
}

// checkSPIFFEID gives a precise reason when leaf does not carry exactly one
// valid SPIFFE ID; go-spiffe's own message does not say what to do.
func checkSPIFFEID(leaf *x509.Certificate) error {
	const fix = "issue it with exactly one URI SAN of the form spiffe://trust-domain/path"
	switch len(leaf.URIs) {
	case 0:
		return fmt.Errorf("has no SPIFFE ID (URI SAN): %s", fix)
	case 1:
	default:
		return fmt.Errorf("has %d URI SANs, but an SVID carries exactly one, its SPIFFE ID: %s", len(leaf.URIs), fix)
	}
	id, err := spiffeid.FromURI(leaf.URIs[0])
	if err != nil {
		return fmt.Errorf("has URI SAN %q, which is not a SPIFFE ID (%v): %s", leaf.URIs[0].String(), err, fix)
	}
	if id.Path() == "" {
		return fmt.Errorf("has SPIFFE ID %s, which names a trust domain, not a workload: %s", id, fix)
	}
	return nil
}

// parseKey returns the first private key block of b. Besides PKCS#8, which
// go-spiffe reads, it takes the SEC 1 and PKCS#1 forms that openssl and
// several issuers still write.
func parseKey(b []byte) (crypto.Signer, error) {
	var seen []string
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: write it unencrypted and protect the file with its permissions")
		default:
			seen = append(seen, block.Type)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s block cannot be parsed: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T: use an ECDSA, RSA or Ed25519 key", key)
		}
		if k, ok := signer.(*rsa.PrivateKey); ok {
			if err := k.Validate(); err != nil {
				return nil, fmt.Errorf("invalid RSA key: %w", err)
			}
		}
		return signer, nil
	}
	if len(seen) == 0 {
		return nil, errors.New("no PEM block found: it must hold the PEM private key of the leaf certificate")
	}
	return nil, fmt.Errorf("no private key PEM block found (found %s): it must hold a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block", strings.Join(seen, ", "))
}

// serial formats a certificate's serial number as operators see it in
// openssl and issuer dashboards.
func serial(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return "none"
	}
	return fmt.Sprintf("%x", c.SerialNumber)
}
