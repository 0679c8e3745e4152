package outlier

import (
	"errors"
	"fmt"
	"time"
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

// FieldError is one problem with one key of a [Config].
type FieldError struct {
	// Key is the dotted policy key, starting at "outlierDetection", for
	// example "outlierDetection.ejectFor". The policy reader prefixes it
	// with the place of the mapping in the file.
	Key string
	// Msg says what is wrong and what is allowed.
	Msg string
}

// Error returns "Key: Msg".
func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate reports every problem with c. It returns nil for a valid Config,
// or an error joining one *[FieldError] per problem, made with
// [errors.Join]: its Unwrap() []error method lists them. Zero fields are
// valid (they take their defaults).
func (c Config) Validate() error {
	var errs []error
	add := func(key, msg string) {
		errs = append(errs, &FieldError{Key: "outlierDetection." + key, Msg: msg})
	}
	if c.ConsecutiveErrors < 0 {
		add("consecutiveErrors", "must not be negative")
	}
	if c.EjectFor < 0 {
		add("ejectFor", "must not be negative")
	}
	if c.MaxEjectedPercent < 0 || c.MaxEjectedPercent > 100 {
		add("maxEjectedPercent", "must be between 0 and 100")
	}
	if c.MaxEjectFor < 0 {
		add("maxEjectFor", "must not be negative")
	} else if d := c.withDefaults(); d.MaxEjectFor < d.EjectFor {
		add("maxEjectFor", fmt.Sprintf("must be at least ejectFor (%s)", d.EjectFor))
	}
	return errors.Join(errs...)
}
