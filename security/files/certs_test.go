package files

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const testID = "spiffe://example.org/svc/x"

// testCA is a CA that issues SVIDs in tests: a root, or an intermediate
// when parent is set.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	parent *testCA
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func mustURI(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(t testing.TB, name string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{Organization: []string{"weft test"}, CommonName: name},
		URIs:                  []*url.URL{mustURI(t, "spiffe://example.org")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// newCA returns a self-signed root whose URI SAN is spiffe://example.org.
func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := caTemplate(t, name)
	return &testCA{cert: sign(t, tmpl, tmpl, key.Public(), key), key: key}
}

// intermediate returns a CA signed by ca.
func (ca *testCA) intermediate(t testing.TB, name string) *testCA {
	t.Helper()
	key := newKey(t)
	return &testCA{cert: sign(t, caTemplate(t, name), ca.cert, key.Public(), ca.key), key: key, parent: ca}
}

type leafOpt func(*x509.Certificate)

func withURIs(uris ...string) leafOpt {
	return func(c *x509.Certificate) {
		c.URIs = nil
		for _, u := range uris {
			p, _ := url.Parse(u)
			c.URIs = append(c.URIs, p)
		}
	}
}

func withNotBefore(t time.Time) leafOpt {
	return func(c *x509.Certificate) { c.NotBefore = t }
}

// svid is a leaf certificate with its key, PEM-encoded as tools write them.
type svid struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte // the leaf, then any intermediates
	keyPEM  []byte // PKCS#8
}

// leaf issues an SVID for testID with a fresh key and serial.
func (ca *testCA) leaf(t testing.TB, opts ...leafOpt) svid {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{Organization: []string{"weft test"}},
		URIs:         []*url.URL{mustURI(t, testID)},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, o := range opts {
		o(tmpl)
	}
	cert := sign(t, tmpl, ca.cert, key.Public(), ca.key)
	certPEM := certsPEM(cert)
	for p := ca; p.parent != nil; p = p.parent {
		certPEM = append(certPEM, certsPEM(p.cert)...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return svid{cert: cert, key: key, certPEM: certPEM, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// paths is a Config whose files live in a test's temporary directory.
func paths(t testing.TB) Config {
	dir := t.TempDir()
	return Config{
		Cert:     filepath.Join(dir, "tls.crt"),
		Key:      filepath.Join(dir, "tls.key"),
		Bundle:   filepath.Join(dir, "ca.crt"),
		Interval: 20 * time.Millisecond,
	}
}

// writeFile writes b in place, as a tool that truncates and rewrites does:
// a reader can see the file empty or the set of files half updated.
func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic replaces path by renaming a complete temporary file over it.
func writeAtomic(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, b)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writeAll writes a complete set of files for s and the bundle roots.
func writeAll(t testing.TB, c Config, s svid, roots ...*testCA) {
	t.Helper()
	writeFile(t, c.Cert, s.certPEM)
	writeFile(t, c.Key, s.keyPEM)
	writeFile(t, c.Bundle, bundlePEM(roots...))
}

func bundlePEM(roots ...*testCA) []byte {
	var b []byte
	for _, r := range roots {
		b = append(b, certsPEM(r.cert)...)
	}
	return b
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPolls waits until the watcher has finished n more polls, to show
// that something did not happen.
func waitPolls(t testing.TB, s *Source, n uint64) {
	t.Helper()
	target := s.polls.Load() + n
	eventually(t, "watcher polls", func() bool { return s.polls.Load() >= target })
}

func servedSerial(t testing.TB, s *Source) *big.Int {
	t.Helper()
	got, err := s.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	return got.Certificates[0].SerialNumber
}

func withNotAfter(t time.Time) leafOpt {
	return func(c *x509.Certificate) { c.NotAfter = t }
}
