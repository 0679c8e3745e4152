package files

import (
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// DefaultInterval is how often the files are checked when
// Config.Interval is zero: rotation is seen within a second, and a check
// that finds nothing changed costs three stat calls.
const DefaultInterval = time.Second

// MinInterval is the smallest Config.Interval; shorter polls only burn CPU.
const MinInterval = 10 * time.Millisecond

// Config names the PEM files a [Source] reads. The policy decodes the
// section `security.identity.files` into it.
type Config struct {
	// Cert is the path of the PEM certificate chain, leaf first. The leaf
	// must carry exactly one URI SAN, the node's SPIFFE ID
	// (spiffe://trust-domain/path); intermediates, if any, follow it.
	// Blocks other than CERTIFICATE are ignored, so Cert may be the same
	// file as Key. Required.
	Cert string `yaml:"cert"`

	// Key is the path of the leaf's private key in PEM: PKCS#8
	// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE
	// KEY"), unencrypted. Required.
	Key string `yaml:"key"`

	// Bundle is the path of one or more PEM CA certificates trusted for
	// the SVID's trust domain, both for the node's own chain and for its
	// peers. During a CA rollover it holds the old and the new root.
	// Required.
	Bundle string `yaml:"bundle"`

	// Interval is how often the files are checked for changes. If zero,
	// DefaultInterval. At least MinInterval when set.
	Interval time.Duration `yaml:"interval"`
}

// Validate reports every problem with c, keyed as in the policy
// ("files.cert"), or nil.
func (c Config) Validate() error {
	var es fielderr.List
	if c.Cert == "" {
		es.Add("cert", "required: set the path of the PEM certificate chain, leaf first")
	}
	if c.Key == "" {
		es.Add("key", "required: set the path of the PEM private key of the leaf certificate")
	}
	if c.Bundle == "" {
		es.Add("bundle", "required: set the path of the PEM CA certificates trusted for the trust domain")
	}
	if c.Interval != 0 && c.Interval < MinInterval {
		es.Add("interval", "must be at least %s, got %s (0 means %s)", MinInterval, c.Interval, DefaultInterval)
	}
	return es.Prefix("files").Err()
}

func (c Config) interval() time.Duration {
	if c.Interval == 0 {
		return DefaultInterval
	}
	return c.Interval
}
