package devca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

func initCA(t *testing.T, dir string) *devca.CA {
	t.Helper()
	ca, err := devca.Init(dir, td)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestInitLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev", "ca")
	made := initCA(t, dir)
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory mode %o, want 700", m)
	}
	if m := mode(t, filepath.Join(dir, devca.KeyFile)); m != 0o600 {
		t.Errorf("key mode %o, want 600", m)
	}
	if m := mode(t, filepath.Join(dir, devca.CertFile)); m&0o400 == 0 || m&0o022 != 0 {
		t.Errorf("certificate mode %o, want 644 less the umask", m)
	}

	loaded, err := devca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.TrustDomain() != td || !loaded.Certificate().Equal(made.Certificate()) {
		t.Fatalf("loaded CA %v differs from the one made", loaded.TrustDomain())
	}
	// The loaded key must be the one that made the root: its SVIDs verify
	// against the original bundle.
	svid, err := loaded.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, made.Bundle()); err != nil {
		t.Fatalf("SVID from the loaded CA: %v", err)
	}
}

func TestInitRefusesExistingCA(t *testing.T) {
	dir := t.TempDir()
	initCA(t, dir)
	keyBefore, err := os.ReadFile(filepath.Join(dir, devca.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = devca.Init(dir, td)
	wantErr(t, err, "already exists", dir)
	keyAfter, err := os.ReadFile(filepath.Join(dir, devca.KeyFile))
	if err != nil || !bytes.Equal(keyBefore, keyAfter) {
		t.Fatalf("the CA key changed (read error %v)", err)
	}

	// A lone certificate or key also counts: Init writes neither.
	for _, name := range []string{devca.CertFile, devca.KeyFile} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := devca.Init(dir, td)
		wantErr(t, err, name+" already exists")
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("Init wrote into a directory holding %s: %v", name, entries)
		}
	}
}

func TestInitUnwritableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := devca.Init(filepath.Join(file, "ca"), td)
	wantErr(t, err, "devca: init:", "not a directory")
}

// writeFile writes content to dir/name.
func writeFile(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCAWithoutSPIFFEID stores a CA certificate that names no trust
// domain, with its key.
func writeCAWithoutSPIFFEID(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "plain CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, devca.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, dir, devca.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"no CA", func(*testing.T, string) {}, []string{devca.CertFile, "no such file", `create one with "weft ca init `, "--trust-domain T"}},
		{"certificate without key", func(t *testing.T, dir string) {
			initCA(t, dir)
			if err := os.Remove(filepath.Join(dir, devca.KeyFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{devca.KeyFile, "no such file", "restore the key"}},
		{"garbage certificate", func(t *testing.T, dir string) {
			initCA(t, dir)
			writeFile(t, dir, devca.CertFile, []byte("hello"))
		}, []string{devca.CertFile, "no PEM CERTIFICATE block"}},
		{"certificate block of garbage", func(t *testing.T, dir string) {
			initCA(t, dir)
			writeFile(t, dir, devca.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
		}, []string{devca.CertFile + ": parse certificate: x509: "}},
		{"garbage key", func(t *testing.T, dir string) {
			initCA(t, dir)
			writeFile(t, dir, devca.KeyFile, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
		}, []string{devca.KeyFile, `no PKCS#8 PEM "PRIVATE KEY" block`}},
		{"key block of garbage", func(t *testing.T, dir string) {
			initCA(t, dir)
			writeFile(t, dir, devca.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}))
		}, []string{devca.KeyFile + ": parse PKCS#8 key: "}},
		{"key of another CA", func(t *testing.T, dir string) {
			initCA(t, dir)
			other := t.TempDir()
			initCA(t, other)
			copyFile(t, filepath.Join(other, devca.KeyFile), filepath.Join(dir, devca.KeyFile))
		}, []string{"does not belong to the certificate", devca.KeyFile, devca.CertFile}},
		{"leaf certificate", func(t *testing.T, dir string) {
			svid, err := newCA(t, td).Issue(apiID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := devca.WriteSVID(svid, filepath.Join(dir, devca.CertFile), filepath.Join(dir, devca.KeyFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{devca.CertFile, "is not a CA certificate"}},
		{"CA certificate without SPIFFE ID", writeCAWithoutSPIFFEID, []string{devca.CertFile, "no spiffe:// URI SAN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			ca, err := devca.Load(dir)
			if ca != nil {
				t.Errorf("Load returned a CA with error %v", err)
			}
			wantErr(t, err, tc.want...)
		})
	}
}

func TestWriteSVID(t *testing.T) {
	ca := newCA(t, td)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "svid.pem"), filepath.Join(dir, "svid.key")
	for range 2 { // the second write replaces the first
		svid, err := ca.Issue(apiID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := devca.WriteSVID(svid, certPath, keyPath); err != nil {
			t.Fatal(err)
		}
		got, err := x509svid.Load(certPath, keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != apiID || len(got.Certificates) != 1 || !got.Certificates[0].Equal(svid.Certificates[0]) {
			t.Fatalf("read back %v with %d certificates, want the SVID written", got.ID, len(got.Certificates))
		}
		if _, _, err := x509svid.Verify(got.Certificates, ca.Bundle()); err != nil {
			t.Fatal(err)
		}
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("key mode %o, want 600", m)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the two files only", len(entries))
	}

	wantErr(t, devca.WriteSVID(nil, certPath, keyPath), "nil SVID")
	svid, err := ca.Issue(apiID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, devca.WriteSVID(svid, filepath.Join(dir, "missing", "c.pem"), keyPath), "write SVID", "no such file")
}
