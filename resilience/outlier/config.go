package outlier

import (
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Config tunes the outlier detection of one destination service. It is the
// outlierDetection mapping of the policy file, decoded directly into this
// struct. The zero Config is usable: every zero field takes the default
// given in its comment, the same values [DefaultConfig] returns.
type Config struct {
	// ConsecutiveErrors is the number of failed requests in a row (5xx
	// responses, gateway errors, failed connections) that ejects an
	// endpoint. If zero, 5.
	ConsecutiveErrors int `yaml:"consecutiveErrors"`

	// EjectFor is the length of an endpoint's first ejection; its n-th
	// ejection in a row lasts EjectFor × n. For every EjectFor an endpoint
	// spends back in rotation without being ejected, the next ejection is
	// one step shorter again. If zero, 30s.
	EjectFor time.Duration `yaml:"ejectFor"`

	// MaxEjectedPercent caps the share of the endpoints (0 to 100) ejected
	// at once, rounded down; at least one endpoint always stays in
	// rotation whatever the value. If zero, 50.
	MaxEjectedPercent int `yaml:"maxEjectedPercent"`

	// MaxEjectFor caps the length of one ejection. If zero, 300s, or
	// EjectFor if that is longer.
	MaxEjectFor time.Duration `yaml:"maxEjectFor"`
}

// The defaults are Envoy's: they eject an endpoint only on a clear run of
// failures, for long enough that a crashed instance leaves the catalog or
// restarts before it is tried again.
const (
	defaultConsecutiveErrors = 5
	defaultEjectFor          = 30 * time.Second
	defaultMaxEjectedPercent = 50
	defaultMaxEjectFor       = 300 * time.Second
)

// DefaultConfig returns the configuration a zero [Config] stands for, with
// every field spelled out.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.ConsecutiveErrors == 0 {
		c.ConsecutiveErrors = defaultConsecutiveErrors
	}
	if c.EjectFor == 0 {
		c.EjectFor = defaultEjectFor
	}
	if c.MaxEjectedPercent == 0 {
		c.MaxEjectedPercent = defaultMaxEjectedPercent
	}
	if c.MaxEjectFor == 0 {
		c.MaxEjectFor = max(defaultMaxEjectFor, c.EjectFor)
	}
	return c
}

// Validate reports every problem with c. It returns nil for a valid Config,
// or an error listing every problem, one per line; its Unwrap() []error
// method returns them one by one, each printed as "<key>: <problem>" with
// the key starting at "outlierDetection" ("outlierDetection.ejectFor").
// Zero fields are valid (they take their defaults).
func (c Config) Validate() error {
	var es fielderr.List
	if c.ConsecutiveErrors < 0 {
		es.Add("consecutiveErrors", "must not be negative")
	}
	if c.EjectFor < 0 {
		es.Add("ejectFor", "must not be negative")
	}
	if c.MaxEjectedPercent < 0 || c.MaxEjectedPercent > 100 {
		es.Add("maxEjectedPercent", "must be between 0 and 100")
	}
	if c.MaxEjectFor < 0 {
		es.Add("maxEjectFor", "must not be negative")
	} else if d := c.withDefaults(); d.MaxEjectFor < d.EjectFor {
		es.Add("maxEjectFor", "must be at least ejectFor (%s)", d.EjectFor)
	}
	return es.Prefix("outlierDetection").Err()
}
