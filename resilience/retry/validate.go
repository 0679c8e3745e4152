package retry

import (
	"fmt"
	"math"
	"strings"
)

// FieldError is one problem with one configuration key. Key is the dotted
// path of the key as written in the policy, starting with the key the
// struct decodes from (`retries.attempts`, `retries.on[1]`,
// `hedge.delay`); Msg says what is wrong and what to write instead.
type FieldError struct {
	Key string
	Msg string
}

// Error returns "retry: Key: Msg".
func (e FieldError) Error() string { return "retry: " + e.Key + ": " + e.Msg }

// FieldErrors lists every problem found by a Validate method, in the
// order of the struct's fields. Validate methods return either nil or a
// non-empty FieldErrors; retrieve it with errors.As.
type FieldErrors []FieldError

// Error returns the problems, one per line.
func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems as a list, for errors.Is and errors.As.
func (es FieldErrors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

func (es *FieldErrors) add(key, format string, args ...any) {
	*es = append(*es, FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Validate checks every field of c, zero fields standing for their
// defaults, and returns nil or a [FieldErrors] with one entry per problem,
// keyed from `retries`.
func (c Config) Validate() error {
	var es FieldErrors
	if c.Attempts < 0 || c.Attempts > MaxAttempts {
		es.add("retries.attempts", "must be between 1 and %d, got %d", MaxAttempts, c.Attempts)
	}
	if c.PerTryTimeout < 0 {
		es.add("retries.perTryTimeout", "must not be negative, got %v", c.PerTryTimeout)
	}
	for i, name := range c.On {
		key := fmt.Sprintf("retries.on[%d]", i)
		if !knownCondition(name) {
			es.add(key, "unknown condition %q; use one of %s", name, strings.Join(conditions[:], ", "))
			continue
		}
		for j := range i {
			if c.On[j] == name {
				es.add(key, "%q is listed twice; remove one", name)
				break
			}
		}
	}
	c.Backoff.validate(&es)
	c.Budget.validate(&es)
	return es.err()
}

func (b Backoff) validate(es *FieldErrors) {
	if b.Base < 0 {
		es.add("retries.backoff.base", "must not be negative, got %v", b.Base)
	}
	if b.Max < 0 || b.Max > MaxBackoff {
		es.add("retries.backoff.max", "must be between 0 and %v, got %v", MaxBackoff, b.Max)
	}
	if b.Base < 0 || b.Max < 0 || b.Max > MaxBackoff {
		return
	}
	if d := b.withDefaults(); d.Base > d.Max {
		es.add("retries.backoff.base", "%v exceeds backoff.max %v; lower base or raise max", d.Base, d.Max)
	}
}

func (b BudgetConfig) validate(es *FieldErrors) {
	if math.IsNaN(b.Ratio) || b.Ratio < 0 || b.Ratio > MaxRatio {
		es.add("retries.budget.ratio", "must be between 0 and %g, got %g", MaxRatio, b.Ratio)
	}
	if math.IsNaN(b.MinPerSecond) || b.MinPerSecond < 0 || b.MinPerSecond > MaxMinPerSecond {
		es.add("retries.budget.minPerSecond", "must be between 0 and %g, got %g", MaxMinPerSecond, b.MinPerSecond)
	}
	if b.TTL != 0 && (b.TTL < MinTTL || b.TTL > MaxTTL) {
		es.add("retries.budget.ttl", "must be between %v and %v, got %v", MinTTL, MaxTTL, b.TTL)
	}
}

// Validate checks h and returns nil or a [FieldErrors] keyed from `hedge`.
func (h HedgeConfig) Validate() error {
	var es FieldErrors
	if h.Delay < 0 {
		es.add("hedge.delay", "must not be negative, got %v", h.Delay)
	}
	if h.MaxExtra < 0 || h.MaxExtra > MaxHedges {
		es.add("hedge.maxExtra", "must be between 0 and %d, got %d", MaxHedges, h.MaxExtra)
	} else if h.MaxExtra > 0 && h.Delay == 0 {
		es.add("hedge.maxExtra", "is set but hedge.delay is not; set delay (for example 50ms) to enable hedging")
	}
	return es.err()
}
