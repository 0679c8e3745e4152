package outlier

import (
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Defaults applied to zero fields. They are Envoy's.
const (
	// DefaultConsecutiveErrors is a run of failures, not a blip.
	DefaultConsecutiveErrors = 5
	// DefaultEjectFor lets a crashed instance restart or leave the catalog
	// before it is tried again.
	DefaultEjectFor = 30 * time.Second
	// DefaultMaxEjectedPercent keeps at least half the endpoints in
	// rotation.
	DefaultMaxEjectedPercent = 50
	// DefaultMaxEjectFor bounds how long an endpoint that keeps failing
	// stays out.
	DefaultMaxEjectFor = 300 * time.Second
)

// Config tunes the outlier detection of one destination service. It is the
// outlierDetection mapping of the policy file, decoded directly into this
// struct. The zero Config is usable: every zero field means the default
// its comment names, which [Config.WithDefaults] fills in.
type Config struct {
	// ConsecutiveErrors is the number of failed requests in a row (5xx
	// responses, gateway errors, failed connections) that ejects an
	// endpoint. If zero, [DefaultConsecutiveErrors].
	ConsecutiveErrors int `yaml:"consecutiveErrors"`

	// EjectFor is the length of an endpoint's first ejection; its n-th
	// ejection in a row lasts EjectFor × n. For every EjectFor an endpoint
	// spends back in rotation without being ejected, the next ejection is
	// one step shorter again. If zero, [DefaultEjectFor].
	EjectFor time.Duration `yaml:"ejectFor"`

	// MaxEjectedPercent caps the share of the endpoints (0 to 100) ejected
	// at once, rounded down; at least one endpoint always stays in
	// rotation whatever the value. If zero, [DefaultMaxEjectedPercent].
	MaxEjectedPercent int `yaml:"maxEjectedPercent"`

	// MaxEjectFor caps the length of one ejection. If zero,
	// [DefaultMaxEjectFor], or EjectFor if that is longer.
	MaxEjectFor time.Duration `yaml:"maxEjectFor"`
}

// DefaultConfig returns the configuration a zero [Config] stands for, with
// every field spelled out.
func DefaultConfig() Config {
	return Config{}.WithDefaults()
}

// WithDefaults returns c with every zero field set to its default. It
// does not validate; call [Config.Validate] for that.
func (c Config) WithDefaults() Config {
	if c.ConsecutiveErrors == 0 {
		c.ConsecutiveErrors = DefaultConsecutiveErrors
	}
	if c.EjectFor == 0 {
		c.EjectFor = DefaultEjectFor
	}
	if c.MaxEjectedPercent == 0 {
		c.MaxEjectedPercent = DefaultMaxEjectedPercent
	}
	if c.MaxEjectFor == 0 {
		c.MaxEjectFor = max(DefaultMaxEjectFor, c.EjectFor)
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
	} else if d := c.WithDefaults(); d.MaxEjectFor < d.EjectFor {
		es.Add("maxEjectFor", "must be at least ejectFor (%s)", d.EjectFor)
	}
	return es.Prefix("outlierDetection").Err()
}
