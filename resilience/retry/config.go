package retry

import "time"

// Limits of the [Config] fields, checked by [Config.Validate].
const (
	// MaxAttempts is the largest Attempts: one try and nine retries.
	MaxAttempts = 10
	// MaxBackoff is the largest Backoff.Max.
	MaxBackoff = time.Minute
	// MaxRatio is the largest BudgetConfig.Ratio: one retry per request.
	MaxRatio = 1.0
	// MaxMinPerSecond is the largest BudgetConfig.MinPerSecond.
	MaxMinPerSecond = 10_000.0
	// MinTTL and MaxTTL bound BudgetConfig.TTL.
	MinTTL = time.Second
	MaxTTL = time.Minute
)

// Defaults applied to zero fields.
const (
	// DefaultAttempts is one try and one retry.
	DefaultAttempts = 2
	// DefaultBackoffBase is the ceiling of the first wait; it doubles with
	// each retry.
	DefaultBackoffBase = 25 * time.Millisecond
	// DefaultBackoffMax bounds every wait.
	DefaultBackoffMax = 250 * time.Millisecond
	// DefaultRatio lets retries add at most 20% to the traffic.
	DefaultRatio = 0.2
	// DefaultMinPerSecond keeps retries possible for a client with little
	// traffic: 10 per second whatever the request rate.
	DefaultMinPerSecond = 10.0
	// DefaultTTL is how long the tokens of a request stay in the budget.
	DefaultTTL = 10 * time.Second
)

// Config says when and how a client retries calls to one destination. The
// policy file decodes into it (key `retries`); every field's zero value
// means its default, so the zero Config is the default policy.
//
// Whether a route is idempotent is a property of the route, not of this
// Config: callers pass it to [Retryable].
type Config struct {
	// Attempts is the total number of tries, the first included, from 1
	// (never retry) to MaxAttempts. If zero, DefaultAttempts: one retry.
	Attempts int `yaml:"attempts"`

	// PerTryTimeout bounds each try; a try that runs out is a [Timeout]
	// outcome and may be retried within the call's own timeout. If zero,
	// tries are bounded only by the call's timeout. Must not be negative.
	PerTryTimeout time.Duration `yaml:"perTryTimeout"`

	// On lists the failures that are retried, each a condition name:
	//
	//	connect-failure  the request never reached the server: the
	//	                 connection failed or the server refused the
	//	                 stream before processing it
	//	reset            the connection broke after the request was sent,
	//	                 or the try exceeded PerTryTimeout
	//	5xx              any status from 500 to 599
	//	gateway-error    status 502, 503 or 504
	//	429              status 429 Too Many Requests
	//
	// If empty, [connect-failure gateway-error]. Names may not repeat.
	On []string `yaml:"on"`

	// Backoff shapes the waits between tries. See [Backoff].
	Backoff Backoff `yaml:"backoff"`

	// Budget caps the retries of all calls that share one [Budget]. See
	// [BudgetConfig].
	Budget BudgetConfig `yaml:"budget"`
}

// Backoff is an exponential backoff with full jitter: the wait before
// retry n (1 for the first retry) is drawn uniformly from
// [0, min(Max, Base×2^(n-1))). Jitter spreads the retries of many clients
// that failed at the same moment, instead of sending them back in lockstep.
type Backoff struct {
	// Base is the ceiling of the first wait. If zero, DefaultBackoffBase.
	// Must not be negative or exceed the effective Max.
	Base time.Duration `yaml:"base"`

	// Max bounds every wait. A server's Retry-After longer than 4×Max is
	// not waited for: the call ends with the server's answer instead (see
	// [Backoff.Pause]). If zero, DefaultBackoffMax. At most MaxBackoff.
	Max time.Duration `yaml:"max"`
}

// BudgetConfig configures a [Budget].
type BudgetConfig struct {
	// Ratio is the share of original requests that may be retried: each
	// request deposits Ratio of a token and each retry or hedge withdraws
	// one. If zero, DefaultRatio. From 0 to MaxRatio; for a budget of
	// MinPerSecond alone, use a tiny ratio such as 0.001.
	Ratio float64 `yaml:"ratio"`

	// MinPerSecond is the number of retries per second allowed whatever the
	// traffic, so that a client with few requests can still retry. If
	// zero, DefaultMinPerSecond. From 0 to MaxMinPerSecond.
	MinPerSecond float64 `yaml:"minPerSecond"`

	// TTL is how long a deposit counts, and so the window over which Ratio
	// is measured. If zero, DefaultTTL. From MinTTL to MaxTTL.
	TTL time.Duration `yaml:"ttl"`
}

// HedgeConfig configures hedged requests: when a try has not answered
// after Delay, the client sends another copy to a different endpoint and
// keeps whichever answers first. Hedges are sent only for requests that
// [Idempotent] accepts, and each withdraws from the same [Budget] as
// retries. The zero HedgeConfig sends no hedges.
type HedgeConfig struct {
	// Delay is how long a try may go unanswered before a hedge is sent. If
	// zero, hedging is off. Must not be negative.
	Delay time.Duration `yaml:"delay"`

	// MaxExtra is the most hedges sent for one call, from 0 to MaxHedges.
	// If zero, and Delay is set, 1.
	MaxExtra int `yaml:"maxExtra"`
}

// MaxHedges is the largest HedgeConfig.MaxExtra.
const MaxHedges = 4

// DefaultConfig returns the default policy with every field filled in.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns a copy of c with every zero field replaced by its
// default. It does not validate; call [Config.Validate] for that. The On
// slice of the result is c.On when that is set, otherwise a new slice.
func (c Config) WithDefaults() Config {
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if len(c.On) == 0 {
		c.On = []string{OnConnectFailure, OnGatewayError}
	}
	c.Backoff = c.Backoff.withDefaults()
	c.Budget = c.Budget.withDefaults()
	return c
}

func (b Backoff) withDefaults() Backoff {
	if b.Base == 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	return b
}

func (b BudgetConfig) withDefaults() BudgetConfig {
	if b.Ratio == 0 {
		b.Ratio = DefaultRatio
	}
	if b.MinPerSecond == 0 {
		b.MinPerSecond = DefaultMinPerSecond
	}
	if b.TTL == 0 {
		b.TTL = DefaultTTL
	}
	return b
}

// Enabled reports whether h sends hedges at all.
func (h HedgeConfig) Enabled() bool { return h.Delay > 0 }

// Extra returns the most hedges to send for one call: 0 when hedging is
// off, otherwise MaxExtra or 1 if that is zero.
func (h HedgeConfig) Extra() int {
	switch {
	case h.Delay <= 0 || h.MaxExtra < 0:
		return 0
	case h.MaxExtra == 0:
		return 1
	case h.MaxExtra > MaxHedges:
		return MaxHedges
	}
	return h.MaxExtra
}
