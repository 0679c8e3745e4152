package devca

import (
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Limits and default of [Config.TTL].
const (
	// DefaultTTL is the SVID lifetime when Config.TTL is zero.
	DefaultTTL = time.Hour
	// MinTTL and MaxTTL bound Config.TTL: renewal at half the lifetime
	// must not spin, and a development identity should not outlive a day.
	MinTTL = time.Second
	MaxTTL = 24 * time.Hour
)

// Config is the policy section security.identity.dev: the node takes its
// identity from a development CA. The zero Config is not valid: CA is
// required.
type Config struct {
	// CA is the directory that "weft ca init DIR --trust-domain T" made,
	// holding ca.crt and ca.key. Required.
	CA string `yaml:"ca"`

	// TTL is the lifetime of each SVID; the node renews it at half that.
	// If zero, DefaultTTL. From MinTTL to MaxTTL.
	TTL time.Duration `yaml:"ttl"`
}

// Validate reports every problem with c. It returns nil for a valid Config,
// or an error listing every problem, one per line; its Unwrap() []error
// method returns them one by one, each printed as "devca: <key>: <problem>"
// with the key starting at "dev" ("dev.ttl"). It does not look at the
// files: [NewSource] does.
func (c Config) Validate() error {
	var es fielderr.List
	if c.CA == "" {
		es.Add("ca", `required: the directory made by "weft ca init DIR --trust-domain T"`)
	}
	if c.TTL != 0 && (c.TTL < MinTTL || c.TTL > MaxTTL) {
		es.Add("ttl", "must be between %v and %v, got %v", MinTTL, MaxTTL, c.TTL)
	}
	return es.Prefix("dev").From("devca").Err()
}

// ttl returns the effective SVID lifetime.
func (c Config) ttl() time.Duration {
	if c.TTL == 0 {
		return DefaultTTL
	}
	return c.TTL
}
