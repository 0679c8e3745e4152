package security

import "fmt"

// Mode says whether connections to a service use mutual TLS.
type Mode string

// The modes, as written in the policy's security.mtls and
// services.<name>.mtls.
const (
	// Strict accepts mutual TLS only; plaintext clients are refused with
	// an error that says so. The default once an identity is configured.
	Strict Mode = "strict"
	// Permissive accepts mutual TLS and plaintext on the same port, so
	// that a service's callers can move to mTLS one at a time. Weft
	// clients that have an identity use mTLS to it.
	Permissive Mode = "permissive"
	// Disabled serves and calls in plaintext. The default without an
	// identity.
	Disabled Mode = "disabled"
)

// Validate reports whether m is one of the modes or empty.
func (m Mode) Validate() error {
	switch m {
	case "", Strict, Permissive, Disabled:
		return nil
	}
	return fmt.Errorf("%q is not an mTLS mode: write strict, permissive or disabled", string(m))
}

// clientTLS reports whether a Weft client with an identity uses TLS to a
// server in mode m.
func (m Mode) clientTLS() bool { return m == Strict || m == Permissive }
