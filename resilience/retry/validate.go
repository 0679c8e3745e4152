package retry

import (
	"fmt"
	"math"
	"strings"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Validate checks every field of c, zero fields standing for their
// defaults, and returns nil or an error listing every problem, one per
// line, in the order of the struct's fields. Its Unwrap() []error method
// returns the problems one by one, each printed as "retry: <key>: <problem>"
// with the key as written in the policy, starting from `retries`
// (`retries.attempts`, `retries.on[1]`).
func (c Config) Validate() error {
	var es fielderr.List
	if c.Attempts < 0 || c.Attempts > MaxAttempts {
		es.Add("retries.attempts", "must be between 1 and %d, got %d", MaxAttempts, c.Attempts)
	}
	if c.PerTryTimeout < 0 {
		es.Add("retries.perTryTimeout", "must not be negative, got %v", c.PerTryTimeout)
	}
	for i, name := range c.On {
		key := fmt.Sprintf("retries.on[%d]", i)
		if !knownCondition(name) {
			es.Add(key, "unknown condition %q; use one of %s", name, strings.Join(conditions[:], ", "))
			continue
		}
		for j := range i {
			if c.On[j] == name {
				es.Add(key, "%q is listed twice; remove one", name)
				break
			}
		}
	}
	c.Backoff.validate(&es)
	c.Budget.validate(&es)
	return es.From("retry").Err()
}

func (b Backoff) validate(es *fielderr.List) {
	if b.Base < 0 {
		es.Add("retries.backoff.base", "must not be negative, got %v", b.Base)
	}
	if b.Max < 0 || b.Max > MaxBackoff {
		es.Add("retries.backoff.max", "must be between 0 and %v, got %v", MaxBackoff, b.Max)
	}
	if b.Base < 0 || b.Max < 0 || b.Max > MaxBackoff {
		return
	}
	if d := b.withDefaults(); d.Base > d.Max {
		es.Add("retries.backoff.base", "%v exceeds backoff.max %v; lower base or raise max", d.Base, d.Max)
	}
}

func (b BudgetConfig) validate(es *fielderr.List) {
	if math.IsNaN(b.Ratio) || b.Ratio < 0 || b.Ratio > MaxRatio {
		es.Add("retries.budget.ratio", "must be between 0 and %g, got %g", MaxRatio, b.Ratio)
	}
	if math.IsNaN(b.MinPerSecond) || b.MinPerSecond < 0 || b.MinPerSecond > MaxMinPerSecond {
		es.Add("retries.budget.minPerSecond", "must be between 0 and %g, got %g", MaxMinPerSecond, b.MinPerSecond)
	}
	if b.TTL != 0 && (b.TTL < MinTTL || b.TTL > MaxTTL) {
		es.Add("retries.budget.ttl", "must be between %v and %v, got %v", MinTTL, MaxTTL, b.TTL)
	}
}

// Validate checks h and returns nil or an error listing every problem, as
// [Config.Validate] does, with keys starting from `hedge` (`hedge.delay`).
func (h HedgeConfig) Validate() error {
	var es fielderr.List
	if h.Delay < 0 {
		es.Add("hedge.delay", "must not be negative, got %v", h.Delay)
	}
	if h.MaxExtra < 0 || h.MaxExtra > MaxHedges {
		es.Add("hedge.maxExtra", "must be between 0 and %d, got %d", MaxHedges, h.MaxExtra)
	} else if h.MaxExtra > 0 && h.Delay == 0 {
		es.Add("hedge.maxExtra", "is set but hedge.delay is not; set delay (for example 50ms) to enable hedging")
	}
	return es.From("retry").Err()
}
