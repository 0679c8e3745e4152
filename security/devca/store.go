package devca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Names of the files [Init] writes in a CA directory.
const (
	// CertFile holds the root certificate, PEM-encoded. It is also the
	// trust bundle of the CA's trust domain.
	CertFile = "ca.crt"
	// KeyFile holds the root key, PKCS#8 PEM-encoded, readable by its
	// owner only.
	KeyFile = "ca.key"
)

// Init creates a CA for td and stores it in dir, which it creates (mode
// 0700) if needed: the certificate in dir/ca.crt (0644) and the key in
// dir/ca.key (0600). It refuses to touch a directory that already holds
// either file, so a CA key is never overwritten.
func Init(dir string, td spiffeid.TrustDomain) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("devca: init: %s already exists; use the CA in %s as it is, or choose an empty directory", p, dir)
		}
	}
	ca, err := New(td)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("devca: init: encode key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devca: init: %w", err)
	}
	// O_EXCL closes the gap between the check above and the write, should
	// two inits race on one directory.
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("devca: init: %w", err)
	}
	if err := writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644); err != nil {
		// The key was ours and is useless without its certificate.
		_ = os.Remove(keyPath)
		return nil, fmt.Errorf("devca: init: %w", err)
	}
	return ca, nil
}

// writeNew writes data to a file that must not exist yet.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// Load reads the CA that [Init] stored in dir, and checks that its
// certificate is a CA certificate naming a trust domain and that the key
// belongs to it.
func Load(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("devca: load CA: %w; create one with \"weft ca init %s --trust-domain T\"", err, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("devca: load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("devca: load CA: %w; restore the key that belongs to %s, or create a new CA in an empty directory with \"weft ca init DIR --trust-domain T\"", err, certPath)
	}
	if err != nil {
		return nil, fmt.Errorf("devca: load CA: %w", err)
	}
	cert, err := parseCACert(certPath, certPEM)
	if err != nil {
		return nil, err
	}
	td, err := caTrustDomain(certPath, cert)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPath, keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("devca: load CA: the key in %s does not belong to the certificate in %s; put back the pair that \"weft ca init\" wrote", keyPath, certPath)
	}
	return &CA{td: td, cert: cert, key: key}, nil
}

func parseCACert(path string, data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("devca: load CA: %s holds no PEM CERTIFICATE block; expected the certificate written by \"weft ca init\"", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: load CA: %s: parse certificate: %w", path, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("devca: load CA: %s is not a CA certificate (it needs CA:true and the certSign key usage); expected the certificate written by \"weft ca init\"", path)
	}
	return cert, nil
}

// caTrustDomain returns the trust domain that the certificate's spiffe://
// URI SAN names.
func caTrustDomain(path string, cert *x509.Certificate) (spiffeid.TrustDomain, error) {
	for _, u := range cert.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		td, err := spiffeid.TrustDomainFromURI(u)
		if err != nil {
			return spiffeid.TrustDomain{}, fmt.Errorf("devca: load CA: %s: URI SAN %q: %w", path, u, err)
		}
		return td, nil
	}
	return spiffeid.TrustDomain{}, fmt.Errorf("devca: load CA: %s has no spiffe:// URI SAN naming its trust domain; expected the certificate written by \"weft ca init\"", path)
}

func parseKey(path string, data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devca: load CA: %s holds no PKCS#8 PEM \"PRIVATE KEY\" block; expected the key written by \"weft ca init\"", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: load CA: %s: parse PKCS#8 key: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("devca: load CA: %s: a %T cannot sign certificates", path, key)
	}
	return signer, nil
}

// WriteSVID writes svid as PEM files: its certificate chain, leaf first,
// to certPath (mode 0644) and its key, PKCS#8, to keyPath (0600). Each file
// is replaced atomically, so a reader sees the old file or the new one,
// never a part; the certificate is written first, so a reader may briefly
// see a new certificate with the old key.
func WriteSVID(svid *x509svid.SVID, certPath, keyPath string) error {
	if svid == nil {
		return errors.New("devca: write SVID: nil SVID")
	}
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		return fmt.Errorf("devca: write SVID %s: %w", svid.ID, err)
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return fmt.Errorf("devca: write SVID %s: %w", svid.ID, err)
	}
	if err := writeAtomic(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("devca: write SVID %s: %w", svid.ID, err)
	}
	return nil
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and a rename.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
