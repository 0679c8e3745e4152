package files

import (
	"crypto"
	"testing"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// FuzzParse feeds arbitrary file contents to the parser: it must never
// panic, and whatever it accepts must be a whole SVID that chains to the
// bundle.
func FuzzParse(f *testing.F) {
	ca := newCA(f, "root")
	leaf := ca.leaf(f)
	f.Add(leaf.certPEM, leaf.keyPEM, bundlePEM(ca))
	f.Add(leaf.certPEM, ca.leaf(f).keyPEM, bundlePEM(ca))
	f.Add(leaf.keyPEM, leaf.certPEM, leaf.keyPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte{}, []byte("\n"))
	cfg := Config{Cert: "cert.pem", Key: "key.pem", Bundle: "ca.pem"}
	f.Fuzz(func(t *testing.T, cert, key, bundle []byte) {
		snap, err := parse(cfg, contents{cert: cert, key: key, bundle: bundle}, digest{})
		if err != nil {
			return
		}
		leaf := snap.svid.Certificates[0]
		if !snap.svid.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
			t.Fatal("accepted a key that does not match the leaf")
		}
		if _, _, err := x509svid.Verify(snap.svid.Certificates, snap.bundle); err != nil {
			t.Fatalf("accepted an SVID that does not verify: %v", err)
		}
	})
}
