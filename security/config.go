package security

import (
	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security/devca"
	"github.com/weftmesh/weft/security/files"
	"github.com/weftmesh/weft/security/workload"
)

// Config is the policy's security section: where a node's identity comes
// from and whether mesh connections use mutual TLS. The trust domain is the
// mesh's (mesh.trustDomain in the policy).
type Config struct {
	// Identity names the provider of the node's SVID. If it names none,
	// the node has no identity and mesh connections are plaintext.
	Identity IdentityConfig `yaml:"identity"`
	// MTLS is the mode of every service that does not set its own
	// (services.<name>.mtls). If empty, Strict when Identity names a
	// provider, else Disabled.
	MTLS Mode `yaml:"mtls"`
	// IDTemplate makes the SPIFFE ID each service's instances present.
	// If empty, [DefaultIDTemplate].
	IDTemplate string `yaml:"idTemplate"`
}

// IdentityConfig names exactly one identity provider, or none.
type IdentityConfig struct {
	// SPIFFE gets SVIDs from the SPIFFE Workload API (a SPIRE agent):
	// the production path.
	SPIFFE *workload.Config `yaml:"spiffe"`
	// Files reads the SVID and bundle from PEM files that an outside tool
	// rotates (cert-manager, Vault PKI).
	Files *files.Config `yaml:"files"`
	// Dev issues SVIDs from a development CA made by `weft ca init`. Not
	// for production.
	Dev *devca.Config `yaml:"dev"`
}

// Enabled reports whether the configuration gives the node an identity.
func (c Config) Enabled() bool {
	i := c.Identity
	return i.SPIFFE != nil || i.Files != nil || i.Dev != nil
}

// DefaultMode returns the mode of services that do not set their own.
func (c Config) DefaultMode() Mode {
	switch {
	case c.MTLS != "":
		return c.MTLS
	case c.Enabled():
		return Strict
	}
	return Disabled
}

// Validate checks that at most one provider is named and that the mode
// can be honoured; each provider's section validates itself.
func (c Config) Validate() error {
	var errs fielderr.List
	n := 0
	for _, set := range []bool{c.Identity.SPIFFE != nil, c.Identity.Files != nil, c.Identity.Dev != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs.Add("identity", "names %d providers: keep exactly one of spiffe, files and dev", n)
	}
	if err := c.MTLS.Validate(); err != nil {
		errs.Add("mtls", "%v", err)
	} else if c.MTLS.clientTLS() && !c.Enabled() {
		errs.Add("mtls", "%s needs an identity: configure security.identity (spiffe, files or dev), or write disabled", c.MTLS)
	}
	return errs.Err()
}
