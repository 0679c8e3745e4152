// Package pemfile reads the PEM files a policy names: certificates that a
// client trusts for one server.
package pemfile

import (
	"crypto/x509"
	"fmt"
	"os"
)

// CertPool returns a pool of the certificates in the PEM file at path, or
// an error that names the file when it cannot be read or holds no
// certificate.
func CertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
