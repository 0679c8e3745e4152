package security_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/weftmesh/weft/security"
)

// BenchmarkHandshake measures one full TLS 1.3 handshake over loopback:
// Weft's SPIFFE mutual TLS against Go's standard mutual TLS and
// server-only TLS with certificates of the same kind (ECDSA P-256).
func BenchmarkHandshake(b *testing.B) {
	ca := newCA(b, td)
	spiffeServer := security.ServerTLS(newSource(issue(b, ca, payments), ca.Bundle()))
	spiffeClient := security.ClientTLS(newSource(issue(b, ca, orders), ca.Bundle()), payments)

	root, rootKey := x509CA(b)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	serverCert, clientCert := x509Leaf(b, root, rootKey), x509Leaf(b, root, rootKey)
	plainServer := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{serverCert}, SessionTicketsDisabled: true}
	plainClient := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "localhost"}
	mutualServer := plainServer.Clone()
	mutualServer.ClientAuth, mutualServer.ClientCAs = tls.RequireAndVerifyClientCert, pool
	mutualClient := plainClient.Clone()
	mutualClient.Certificates = []tls.Certificate{clientCert}

	for _, bc := range []struct {
		name     string
		srv, cli *tls.Config
	}{
		{"weft-spiffe-mtls", spiffeServer, spiffeClient},
		{"go-mtls", mutualServer, mutualClient},
		{"go-server-tls", plainServer, plainClient},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						tc := tls.Server(c, bc.srv)
						if tc.Handshake() == nil {
							tc.Write([]byte{1})
						}
						tc.Close()
					}()
				}
			}()
			b.ReportAllocs()
			var one [1]byte
			for b.Loop() {
				c, err := tls.Dial("tcp", l.Addr().String(), bc.cli)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Read(one[:]); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

func x509CA(b *testing.B) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func x509Leaf(b *testing.B, root *x509.Certificate, rootKey *ecdsa.PrivateKey) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		b.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
