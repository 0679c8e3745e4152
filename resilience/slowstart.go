package resilience

import (
	"sync/atomic"
	"time"
)

// minRampFactor is the share of its weight an endpoint gets when it has
// just become ready: small enough to protect it, large enough that it
// receives the traffic that warms it up.
const minRampFactor = 0.1

// Ramp tracks the slow start of one picker's endpoint set: it tells a pick
// whether any endpoint is still ramping up and, if so, by how much to scale
// each endpoint's weight.
//
// A Ramp is made by [NewRamp] in a Builder's Build and used by the picker's
// Pick from any number of goroutines; its methods are safe for concurrent
// use, never block and do not allocate. Once every endpoint has finished
// its ramp, the Ramp remembers it and stops reading the clock.
type Ramp struct {
	window int64 // nanoseconds; 0 when slow start is off
	end    int64 // unix nanoseconds when the last endpoint's ramp ends
	now    func() time.Time
	done   atomic.Bool
}

// NewRamp returns the ramp for endpoints under opts. It reads the clock
// once, to learn whether any endpoint is still ramping.
func NewRamp(endpoints []*Endpoint, opts BuildOptions) *Ramp {
	r := &Ramp{window: int64(max(opts.SlowStart, 0)), now: opts.Clock()}
	if r.window == 0 {
		r.done.Store(true)
		return r
	}
	for _, e := range endpoints {
		if !e.ReadySince.IsZero() {
			r.end = max(r.end, e.ReadySince.UnixNano()+r.window)
		}
	}
	r.Active()
	return r
}

// Active reports whether some endpoint may still be ramping and, if so,
// the current time in unix nanoseconds for [Ramp.Factor]. It reads the
// clock only until the last ramp has ended.
func (r *Ramp) Active() (now int64, ok bool) {
	if r.done.Load() {
		return 0, false
	}
	now = r.now().UnixNano()
	if now >= r.end {
		r.done.Store(true)
		return 0, false
	}
	return now, true
}

// Factor returns the share of its weight e gets at now, from 0.1 when e has
// just become ready to 1 at the end of the window. An endpoint with a zero
// ReadySince has finished its ramp.
func (r *Ramp) Factor(e *Endpoint, now int64) float64 {
	if r.window == 0 || e.ReadySince.IsZero() {
		return 1
	}
	age := now - e.ReadySince.UnixNano()
	if age >= r.window {
		return 1
	}
	if age <= 0 {
		return minRampFactor
	}
	return minRampFactor + (1-minRampFactor)*float64(age)/float64(r.window)
}

// Weight returns e's weight with 0 meaning 1, as a float for scaling.
func Weight(e *Endpoint) float64 { return float64(max(e.Weight, 1)) }
