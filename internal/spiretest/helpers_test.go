package spiretest

import (
	"crypto/x509"
	"errors"
	"syscall"
)

func verifyOpts(roots, intermediates []*x509.Certificate) x509.VerifyOptions {
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool()}
	for _, c := range roots {
		opts.Roots.AddCert(c)
	}
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	return opts
}

// alive reports whether a process with pid exists (a reaped child does not).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
