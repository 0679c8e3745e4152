package limit

import (
	"math"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Config says what a service instance accepts. The policy file decodes into
// it (the inbound keys of a service); the zero Config limits nothing.
type Config struct {
	// RateLimit bounds the rate of requests, per caller and in total.
	// If nil, no rate is limited.
	RateLimit *RateLimit `yaml:"rateLimit"`

	// MaxConcurrent bounds the requests handled at once; request number
	// MaxConcurrent+1 is rejected with 503 while MaxConcurrent are in
	// flight. If zero, concurrency is unlimited (unless
	// AdaptiveConcurrency is set).
	MaxConcurrent int `yaml:"maxConcurrent"`

	// AdaptiveConcurrency learns a concurrency limit from the latency of
	// the requests it admits. When MaxConcurrent is also set, the lower
	// of the two applies. If nil, no limit is learned.
	AdaptiveConcurrency *AdaptiveConfig `yaml:"adaptiveConcurrency"`
}

// RateLimit holds the token buckets of a rate limit. A request must get a
// token from every bucket that is set. An empty RateLimit is invalid:
// set PerCaller, Total or both.
type RateLimit struct {
	// PerCaller is the bucket each caller identity gets, so that one
	// noisy caller cannot starve the others. If nil, callers share only
	// Total.
	PerCaller *Bucket `yaml:"perCaller"`

	// Total is the one bucket of the whole service instance. If nil, the
	// instance's total rate is not limited.
	Total *Bucket `yaml:"total"`
}

// Bucket is a token bucket: it refills at RPS tokens per second up to
// Burst tokens, and each request takes one.
type Bucket struct {
	// RPS is the sustained rate, in requests per second; it must be
	// greater than zero. Fractions are allowed: 0.5 is one request every
	// two seconds.
	RPS float64 `yaml:"rps"`

	// Burst is how many requests may arrive at once after a quiet period.
	// If zero, it is RPS rounded up (at least 1).
	Burst int `yaml:"burst"`
}

// Algorithm names for [AdaptiveConfig].Algorithm.
const (
	// Gradient compares the latency of each window with the latency of
	// the service when it is not loaded and shrinks the limit by their
	// ratio, growing it by the square root of the limit otherwise.
	Gradient = "gradient"
	// AIMD grows the limit by one per limit's worth of fast, successful
	// requests and cuts it by 10% after a window with a dropped request
	// or a mean latency above LatencyTarget.
	AIMD = "aimd"
)

// AdaptiveConfig tunes adaptive concurrency, after Netflix's
// concurrency-limits and Envoy's adaptive concurrency filter. Every field
// may be left zero; [DefaultAdaptiveConfig] shows the values then used.
type AdaptiveConfig struct {
	// Algorithm is [Gradient] or [AIMD]. If empty, it is Gradient.
	Algorithm string `yaml:"algorithm"`

	// InitialLimit is the limit before anything is learned. If zero, 20.
	InitialLimit int `yaml:"initialLimit"`

	// MinLimit is the floor of the limit, and the concurrency at which
	// Gradient measures the no-load latency. If zero, 5.
	MinLimit int `yaml:"minLimit"`

	// MaxLimit is the ceiling of the limit. If zero, 1000.
	MaxLimit int `yaml:"maxLimit"`

	// Window is how often the limit is recomputed: a window closes when
	// it is at least this long and holds at least 10 requests. If zero,
	// 1s.
	Window time.Duration `yaml:"window"`

	// ProbeInterval is how often Gradient measures the no-load latency
	// again, by holding concurrency at MinLimit for 10 requests, so that
	// a service that became permanently slower gets its throughput back.
	// If zero, 1m. Used by Gradient only.
	ProbeInterval time.Duration `yaml:"probeInterval"`

	// LatencyTarget is the mean latency above which AIMD counts a window
	// as overloaded. If zero, only dropped requests shrink the limit.
	// Used by AIMD only.
	LatencyTarget time.Duration `yaml:"latencyTarget"`
}

// DefaultAdaptiveConfig returns the values an all-zero [AdaptiveConfig]
// stands for.
func DefaultAdaptiveConfig() AdaptiveConfig {
	return AdaptiveConfig{
		Algorithm:     Gradient,
		InitialLimit:  20,          // safe for most services before the first window
		MinLimit:      5,           // keeps a trickle flowing however slow the backend
		MaxLimit:      1000,        // far above what one instance serves well
		Window:        time.Second, // enough requests per window at moderate load
		ProbeInterval: time.Minute, // a probe costs about 10 requests' worth of capacity
		LatencyTarget: 0,           // AIMD reacts to drops only
	}
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c AdaptiveConfig) withDefaults() AdaptiveConfig {
	d := DefaultAdaptiveConfig()
	if c.Algorithm == "" {
		c.Algorithm = d.Algorithm
	}
	if c.InitialLimit == 0 {
		c.InitialLimit = d.InitialLimit
	}
	if c.MinLimit == 0 {
		c.MinLimit = min(d.MinLimit, c.InitialLimit)
	}
	if c.MaxLimit == 0 {
		c.MaxLimit = max(d.MaxLimit, c.InitialLimit)
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = d.ProbeInterval
	}
	return c
}

// burst returns b.Burst, or its default.
func (b *Bucket) burst() int {
	if b.Burst > 0 {
		return b.Burst
	}
	return int(math.Max(1, math.Ceil(b.RPS)))
}

// maxLimitValue bounds every concurrency number, far above what any single
// process serves, so that arithmetic on limits cannot overflow.
const maxLimitValue = 1 << 24

// maxRPS bounds a bucket's rate: above it a bucket limits nothing.
const maxRPS = 1e9

// Validate checks c and returns every problem found, or nil. The result
// lists the problems one per line, in the order of the fields; its
// Unwrap() []error method returns them one by one, each printed as
// "<key>: <problem>" with the key relative to the Config
// ("rateLimit.perCaller.rps"); the policy package prefixes it with the path
// of the inbound mapping.
func (c Config) Validate() error {
	var es fielderr.List
	if r := c.RateLimit; r != nil {
		if r.PerCaller == nil && r.Total == nil {
			es.Add("rateLimit", "set perCaller, total or both, or remove rateLimit")
		}
		es = append(es, validateBucket(r.PerCaller).Prefix("rateLimit.perCaller")...)
		es = append(es, validateBucket(r.Total).Prefix("rateLimit.total")...)
	}
	if c.MaxConcurrent < 0 || c.MaxConcurrent > maxLimitValue {
		es.Add("maxConcurrent", "must be between 0 (unlimited) and %d, got %d", maxLimitValue, c.MaxConcurrent)
	}
	if a := c.AdaptiveConcurrency; a != nil {
		es = append(es, validateAdaptive(*a).Prefix("adaptiveConcurrency")...)
	}
	return es.Err()
}

// validateBucket returns the problems of b, keyed relative to b.
func validateBucket(b *Bucket) fielderr.List {
	if b == nil {
		return nil
	}
	var es fielderr.List
	if !(b.RPS > 0 && b.RPS <= maxRPS) { // also rejects NaN
		es.Add("rps", "must be greater than 0 and at most %g requests per second, got %g", float64(maxRPS), b.RPS)
	}
	if b.Burst < 0 || b.Burst > maxLimitValue {
		es.Add("burst", "must be between 0 (the rps rounded up) and %d, got %d", maxLimitValue, b.Burst)
	}
	return es
}

// validateAdaptive returns the problems of a, keyed relative to a.
func validateAdaptive(a AdaptiveConfig) fielderr.List {
	var es fielderr.List
	switch a.Algorithm {
	case "", Gradient, AIMD:
	default:
		es.Add("algorithm", "must be %q or %q, got %q", Gradient, AIMD, a.Algorithm)
	}
	bad := false
	for _, f := range []struct {
		key string
		v   int
	}{{"initialLimit", a.InitialLimit}, {"minLimit", a.MinLimit}, {"maxLimit", a.MaxLimit}} {
		if f.v < 0 || f.v > maxLimitValue {
			es.Add(f.key, "must be between 0 (the default) and %d, got %d", maxLimitValue, f.v)
			bad = true
		}
	}
	if !bad {
		d := a.withDefaults()
		if d.MinLimit > d.MaxLimit {
			es.Add("minLimit", "must not exceed maxLimit (%d), got %d", d.MaxLimit, d.MinLimit)
		} else if d.InitialLimit < d.MinLimit || d.InitialLimit > d.MaxLimit {
			es.Add("initialLimit", "must be between minLimit (%d) and maxLimit (%d), got %d", d.MinLimit, d.MaxLimit, d.InitialLimit)
		}
	}
	if a.Window < 0 {
		es.Add("window", "must not be negative, got %s", a.Window)
	}
	if a.ProbeInterval < 0 {
		es.Add("probeInterval", "must not be negative, got %s", a.ProbeInterval)
	} else if a.ProbeInterval > 0 && a.Algorithm == AIMD {
		es.Add("probeInterval", "is used by algorithm %q only; remove it", Gradient)
	} else if a.ProbeInterval > 0 && a.Window > 0 && a.ProbeInterval < a.Window {
		es.Add("probeInterval", "must be at least the window (%s), got %s", a.Window, a.ProbeInterval)
	}
	if a.LatencyTarget < 0 {
		es.Add("latencyTarget", "must not be negative, got %s", a.LatencyTarget)
	} else if a.LatencyTarget > 0 && a.Algorithm != AIMD {
		es.Add("latencyTarget", "is used by algorithm %q only; remove it or set algorithm: %s", AIMD, AIMD)
	}
	return es
}
