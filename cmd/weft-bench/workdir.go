package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/devca"
)

// The names every mode uses: the server hosts service serverService, the
// load generator is client service clientService, and both carry SPIFFE
// IDs of trustDomain in Weft's default form, spiffe://<td>/svc/<service>.
const (
	trustDomain   = "bench.local"
	serverService = "echo"
	clientService = "loadgen"
)

// workdir is the directory a run keeps its files in, shared by the
// orchestrating process and its children: the development CA, the
// certificates of the modes that do not take them from Weft, the policy
// files and the children's logs.
type workdir string

func (w workdir) path(name string) string { return filepath.Join(string(w), name) }

// caDir is the development CA ("weft ca init"), from which the Weft nodes
// issue their own SVIDs and which signed the certificate files below.
func (w workdir) caDir() string { return w.path("ca") }

// certPath, keyPath and pemPath are the files of service's SVID: the
// chain, the key, and both in one file (as HAProxy's crt wants).
func (w workdir) certPath(service string) string { return w.path(service + ".crt") }
func (w workdir) keyPath(service string) string  { return w.path(service + ".key") }
func (w workdir) pemPath(service string) string  { return w.path(service + ".pem") }
func (w workdir) bundlePath() string             { return filepath.Join(w.caDir(), "ca.crt") }

// policyPath is the Weft policy file of one kind of Weft mode.
func (w workdir) policyPath(kind string) string { return w.path("policy-" + kind + ".yaml") }

func (w workdir) logPath(name string) string { return w.path(name + ".log") }

// prepare creates the CA, the SVID files for the modes that bring their
// own TLS (net/http, grpc-go, HAProxy) and the Weft policies. otlp, if
// not empty, is the collector the traced Weft mode exports to.
func (w workdir) prepare(otlp string) error {
	ca, err := devca.Init(w.caDir(), spiffeid.RequireTrustDomainFromString(trustDomain))
	if err != nil {
		return err
	}
	for _, svc := range []string{serverService, clientService} {
		svid, err := ca.Issue(serviceID(svc), 24*time.Hour)
		if err != nil {
			return err
		}
		if err := devca.WriteSVID(svid, w.certPath(svc), w.keyPath(svc)); err != nil {
			return err
		}
		cert, err1 := os.ReadFile(w.certPath(svc))
		key, err2 := os.ReadFile(w.keyPath(svc))
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if err := os.WriteFile(w.pemPath(svc), append(cert, key...), 0o600); err != nil {
			return err
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	for kind, body := range policies(w.caDir(), base64.StdEncoding.EncodeToString(key), otlp) {
		if err := os.WriteFile(w.policyPath(kind), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Kinds of Weft policy.
const (
	policyPlain = "plain" // the built-in defaults
	policyMTLS  = "mtls"  // identities from the development CA, strict mutual TLS, encrypted gossip
	policyOTLP  = "otlp"  // mtls, and every trace exported to an OTLP collector
)

func policies(caDir, gossipKey, otlp string) map[string]string {
	mtls := fmt.Sprintf(`version: 1
mesh: {name: bench, trustDomain: %s, gossipKey: %q}
security:
  identity: {dev: {ca: %q}}
`, trustDomain, gossipKey, caDir)
	p := map[string]string{
		policyPlain: "version: 1\nmesh: {name: bench}\n",
		policyMTLS:  mtls,
	}
	if otlp != "" {
		p[policyOTLP] = mtls + fmt.Sprintf("telemetry:\n  tracing: {sampleRatio: 1, otlp: {endpoint: %q, insecure: true}}\n", otlp)
	}
	return p
}

func serviceID(service string) spiffeid.ID {
	return spiffeid.RequireFromString("spiffe://" + trustDomain + "/svc/" + service)
}

// serverTLS and clientTLS are the mutual TLS configurations of the modes
// that secure plain Go servers and clients by hand, with the same CA and
// kind of certificate (ECDSA P-256 SVIDs) as the mesh. They check the
// peer's chain but not its SPIFFE ID, as SPIFFE-unaware code would; Weft
// checks the ID too.
func (w workdir) serverTLS() (*tls.Config, error) {
	cert, pool, err := w.keyPair(serverService)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

func (w workdir) clientTLS() (*tls.Config, error) {
	cert, pool, err := w.keyPair(clientService)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS13,
		// An SVID names no host: verify the chain alone.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the server sent no certificate")
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs[i] = c
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		},
	}, nil
}

func (w workdir) keyPair(service string) (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(w.certPath(service), w.keyPath(service))
	if err != nil {
		return cert, nil, fmt.Errorf("certificate of %s: %w", service, err)
	}
	ca, err := os.ReadFile(w.bundlePath())
	if err != nil {
		return cert, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return cert, nil, fmt.Errorf("%s holds no CA certificate", w.bundlePath())
	}
	return cert, pool, nil
}
