package files

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/weftmesh/weft/internal/fielderr"
)

func TestLoad(t *testing.T) {
	ca := newCA(t, "root")
	leaf := ca.leaf(t)
	cfg := paths(t)
	writeAll(t, cfg, leaf, ca)

	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	got, err := s.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if got.ID.String() != testID {
		t.Errorf("ID = %s, want %s", got.ID, testID)
	}
	if !got.Certificates[0].Equal(leaf.cert) {
		t.Error("served leaf is not the one in the cert file")
	}
	if !leaf.key.PublicKey.Equal(got.PrivateKey.Public()) {
		t.Error("served key is not the one in the key file")
	}
	b, err := s.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString("example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if auth := b.X509Authorities(); len(auth) != 1 || !auth[0].Equal(ca.cert) {
		t.Errorf("bundle authorities = %d certificates, want the root", len(auth))
	}
	if _, _, err := x509svid.Verify(got.Certificates, b); err != nil {
		t.Errorf("served SVID does not verify against the served bundle: %v", err)
	}
	if st := s.Stats(); st != (Stats{}) {
		t.Errorf("Stats = %+v after load, want zero", st)
	}
}

func TestLoadKeyFormats(t *testing.T) {
	ca := newCA(t, "root")
	ec := ca.leaf(t)
	sec1, err := x509.MarshalECPrivateKey(ec.key)
	if err != nil {
		t.Fatal(err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaLeaf := ca.leaf(t)
	rsaLeaf.cert = sign(t, rsaLeaf.cert, ca.cert, rsaKey.Public(), ca.key)
	rsaLeaf.certPEM = certsPEM(rsaLeaf.cert)

	for _, tc := range []struct {
		name    string
		cert    []byte
		key     []byte
		combine bool
	}{
		{"pkcs8", ec.certPEM, ec.keyPEM, false},
		{"sec1 with parameters block", ec.certPEM, append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), false},
		{"pkcs1 rsa", rsaLeaf.certPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), false},
		{"cert and key in one file", ec.certPEM, ec.keyPEM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := paths(t)
			if tc.combine {
				cfg.Key = cfg.Cert
				writeFile(t, cfg.Cert, append(append([]byte{}, tc.key...), tc.cert...))
			} else {
				writeFile(t, cfg.Cert, tc.cert)
				writeFile(t, cfg.Key, tc.key)
			}
			writeFile(t, cfg.Bundle, bundlePEM(ca))
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, _ := s.GetX509SVID()
			if got.ID.String() != testID {
				t.Errorf("ID = %s, want %s", got.ID, testID)
			}
		})
	}
}

func TestLoadIntermediate(t *testing.T) {
	root := newCA(t, "root")
	leaf := root.intermediate(t, "intermediate").leaf(t)
	cfg := paths(t)
	writeAll(t, cfg, leaf, root)
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.GetX509SVID(); len(got.Certificates) != 2 {
		t.Errorf("chain has %d certificates, want leaf and intermediate", len(got.Certificates))
	}

	// Without the intermediate the leaf cannot reach the root.
	writeFile(t, cfg.Cert, certsPEM(leaf.cert))
	_, err = New(cfg, nil)
	wantErr(t, err, cfg.Cert, cfg.Bundle, "does not chain")
}

func TestLoadErrors(t *testing.T) {
	ca := newCA(t, "root")
	other := newCA(t, "other root")
	good := ca.leaf(t)
	noID := ca.leaf(t, withURIs())
	twoIDs := ca.leaf(t, withURIs(testID, "spiffe://example.org/svc/y"))
	notSPIFFE := ca.leaf(t, withURIs("https://example.org/svc/x"))
	tdOnly := ca.leaf(t, withURIs("spiffe://example.org"))
	foreign := other.leaf(t)
	future := ca.leaf(t, withNotBefore(time.Now().Add(time.Hour)))
	expired := ca.leaf(t, withNotBefore(time.Now().Add(-2*time.Hour)), withNotAfter(time.Now().Add(-time.Hour)))
	caAsLeaf := ca.leaf(t, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	})
	keyOnly := good.keyPEM

	type files struct{ cert, key, bundle []byte }
	for _, tc := range []struct {
		name    string
		files   files
		missing string // "cert", "key" or "bundle": not written
		// want holds what the error must contain; "<cert>", "<key>" and
		// "<bundle>" stand for the file paths.
		want []string
	}{
		{"cert unreadable", files{nil, good.keyPEM, bundlePEM(ca)}, "cert", []string{"<cert>", "cannot read cert file", "no such file"}},
		{"key unreadable", files{good.certPEM, nil, bundlePEM(ca)}, "key", []string{"<key>", "cannot read key file", "no such file"}},
		{"bundle unreadable", files{good.certPEM, good.keyPEM, nil}, "bundle", []string{"<bundle>", "cannot read bundle file", "no such file"}},
		{"cert not pem", files{[]byte("not a certificate\n"), good.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "no PEM block"}},
		{"cert has only a key", files{keyOnly, good.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "no CERTIFICATE PEM block", "PRIVATE KEY"}},
		{"cert truncated", files{good.certPEM[:len(good.certPEM)/2], good.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "no PEM block"}},
		{"key not pem", files{good.certPEM, []byte("garbage"), bundlePEM(ca)}, "", []string{"<key>", "no PEM block"}},
		{"key file holds a certificate", files{good.certPEM, good.certPEM, bundlePEM(ca)}, "", []string{"<key>", "no private key PEM block", "CERTIFICATE"}},
		{"key encrypted", files{good.certPEM, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), bundlePEM(ca)}, "", []string{"<key>", "encrypted"}},
		{"key does not match", files{good.certPEM, ca.leaf(t).keyPEM, bundlePEM(ca)}, "", []string{"<key>", "<cert>", "does not match"}},
		{"no spiffe id", files{noID.certPEM, noID.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "no SPIFFE ID (URI SAN)"}},
		{"two uri sans", files{twoIDs.certPEM, twoIDs.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "2 URI SANs"}},
		{"not a spiffe uri", files{notSPIFFE.certPEM, notSPIFFE.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "https://example.org/svc/x", "not a SPIFFE ID"}},
		{"trust domain id", files{tdOnly.certPEM, tdOnly.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "names a trust domain"}},
		{"ca as leaf", files{caAsLeaf.certPEM, caAsLeaf.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "not a valid X.509 SVID"}},
		{"bundle not pem", files{good.certPEM, good.keyPEM, []byte("\n")}, "", []string{"<bundle>", "no PEM block"}},
		{"bundle has no certificates", files{good.certPEM, good.keyPEM, keyOnly}, "", []string{"<bundle>", "bundle has no certificates"}},
		{"different ca", files{foreign.certPEM, foreign.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "<bundle>", "does not chain", "unknown authority"}},
		{"not yet valid", files{future.certPEM, future.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "is not valid before", "clock"}},
		{"expired", files{expired.certPEM, expired.keyPEM, bundlePEM(ca)}, "", []string{"<cert>", "expired at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := paths(t)
			for _, f := range []struct {
				name, path string
				b          []byte
			}{{"cert", cfg.Cert, tc.files.cert}, {"key", cfg.Key, tc.files.key}, {"bundle", cfg.Bundle, tc.files.bundle}} {
				if f.name != tc.missing {
					writeFile(t, f.path, f.b)
				}
			}
			s, err := New(cfg, nil)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded, want an error")
			}
			if tc.missing != "" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q does not wrap fs.ErrNotExist", err)
			}
			r := strings.NewReplacer("<cert>", cfg.Cert, "<key>", cfg.Key, "<bundle>", cfg.Bundle)
			var want []string
			for _, w := range tc.want {
				want = append(want, r.Replace(w))
			}
			wantErr(t, err, want...)
		})
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their permissions")
	}
	ca := newCA(t, "root")
	cfg := paths(t)
	writeAll(t, cfg, ca.leaf(t), ca)
	if err := os.Chmod(cfg.Key, 0); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, nil)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("error %v does not wrap fs.ErrPermission", err)
	}
	wantErr(t, err, cfg.Key, "permission denied", "may read it")
}

func TestNewInvalidConfig(t *testing.T) {
	_, err := New(Config{Cert: "c"}, nil)
	var fe *fielderr.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v holds no *fielderr.Error", err)
	}
	wantErr(t, err, "files: invalid configuration", "files.key", "files.bundle")
}

func TestConfigValidate(t *testing.T) {
	full := Config{Cert: "c", Key: "k", Bundle: "b"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // keys with a problem
	}{
		{"minimal", full, nil},
		{"interval at minimum", Config{Cert: "c", Key: "k", Bundle: "b", Interval: MinInterval}, nil},
		{"empty", Config{}, []string{"files.cert", "files.key", "files.bundle"}},
		{"interval too short", Config{Cert: "c", Key: "k", Bundle: "b", Interval: time.Millisecond}, []string{"files.interval"}},
		{"interval negative", Config{Cert: "c", Key: "k", Bundle: "b", Interval: -time.Second}, []string{"files.interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			var l fielderr.List
			if err != nil && !errors.As(err, &l) {
				t.Fatalf("Validate() = %v, not a fielderr.List", err)
			}
			var keys []string
			for _, e := range l {
				keys = append(keys, e.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
				t.Errorf("problems with %v, want %v (%v)", keys, tc.want, err)
			}
		})
	}
}

func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !strings.HasPrefix(err.Error(), "files: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
