package breaker

import (
	"math"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Defaults applied to zero fields. They follow Envoy's and gobreaker's
// orders of magnitude.
const (
	// DefaultConsecutiveFailures is a handful of failures in a row: a
	// clear signal on its own.
	DefaultConsecutiveFailures = 5
	// DefaultMinRequests is the sample of a few dozen requests a ratio
	// needs.
	DefaultMinRequests = 20
	// DefaultWindow holds that sample for a client of modest traffic.
	DefaultWindow = 10 * time.Second
	// DefaultOpenFor gives a crashed instance time to restart or leave the
	// catalog before it is tried again.
	DefaultOpenFor = 30 * time.Second
	// DefaultHalfOpenRequests lets a single trial request decide.
	DefaultHalfOpenRequests = 1
)

// Config tunes the breakers of one destination service. It is the
// circuitBreaker mapping of the policy file, decoded directly into this
// struct. The zero Config is usable: every zero field means the default
// its comment names, which [Config.WithDefaults] fills in.
type Config struct {
	// ConsecutiveFailures is the number of failures in a row that opens a
	// closed breaker. If zero, [DefaultConsecutiveFailures].
	ConsecutiveFailures uint32 `yaml:"consecutiveFailures"`

	// FailureRatio also opens a closed breaker when failed requests make up
	// more than this share (0 to 1, exclusive) of the requests that finished
	// in the rolling Window, provided at least MinRequests finished there.
	// If zero, only ConsecutiveFailures opens a breaker.
	FailureRatio float64 `yaml:"failureRatio"`

	// MinRequests is the number of finished requests the Window must hold
	// before FailureRatio is applied, so that a handful of requests cannot
	// trip it. If zero, [DefaultMinRequests].
	MinRequests uint32 `yaml:"minRequests"`

	// Window is the span of the rolling window that FailureRatio and
	// MinRequests count over; it advances in steps of a tenth of its span.
	// A breaker also forgets failures in a row that fall out of the window.
	// If zero, [DefaultWindow].
	Window time.Duration `yaml:"window"`

	// OpenFor is how long a breaker stays open, failing requests to its
	// endpoint fast, before it turns half-open. If zero, [DefaultOpenFor].
	OpenFor time.Duration `yaml:"openFor"`

	// HalfOpenRequests is the number of trial requests a half-open breaker
	// lets through; the breaker closes when that many succeed in a row and
	// opens again on the first failure. If zero,
	// [DefaultHalfOpenRequests].
	HalfOpenRequests uint32 `yaml:"halfOpenRequests"`
}

// windowBuckets is the number of steps the rolling window advances in.
const windowBuckets = 10

// DefaultConfig returns the configuration a zero [Config] stands for, with
// every field spelled out.
func DefaultConfig() Config {
	return Config{}.WithDefaults()
}

// WithDefaults returns c with every zero field set to its default. It
// does not validate; call [Config.Validate] for that.
func (c Config) WithDefaults() Config {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.OpenFor == 0 {
		c.OpenFor = DefaultOpenFor
	}
	if c.HalfOpenRequests == 0 {
		c.HalfOpenRequests = DefaultHalfOpenRequests
	}
	return c
}

// Validate reports every problem with c. It returns nil for a valid Config,
// or an error listing every problem, one per line; its Unwrap() []error
// method returns them one by one, each printed as "<key>: <problem>" with
// the key starting at "circuitBreaker" ("circuitBreaker.openFor"). Zero
// fields are valid (they take their defaults).
func (c Config) Validate() error {
	var es fielderr.List
	if math.IsNaN(c.FailureRatio) || c.FailureRatio < 0 || c.FailureRatio >= 1 {
		es.Add("failureRatio", "must be at least 0 and less than 1 (0 turns the ratio off)")
	}
	if c.Window < 0 {
		es.Add("window", "must not be negative")
	}
	if c.OpenFor < 0 {
		es.Add("openFor", "must not be negative")
	}
	return es.Prefix("circuitBreaker").Err()
}
