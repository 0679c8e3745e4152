package leastrequest

import (
	"math/bits"

	"github.com/weftmesh/weft/resilience"
)

// Ranks order endpoints before load is compared: a lower rank always wins.
// An avoided endpoint that is available beats a down one because a down
// mark records a failure to connect at all, while Avoid only records that
// this one request failed there.
const (
	usable      = iota // available and not avoided
	avoidedUp          // avoided but available
	down               // down and not avoided
	avoidedDown        // avoided and down
)

// view evaluates endpoints for one pick.
type view struct {
	p *picker
	// now is the time in unix nanoseconds, read once per pick when
	// needed; 0 until then.
	now int64
	// ramping reports that some endpoint may be ramping up; now is then
	// set.
	ramping bool
}

// rank returns the rank of e for a request that avoids avoid.
func (c *view) rank(e, avoid *resilience.Endpoint) int {
	r := usable
	if !c.available(e) {
		r = down
	}
	if e == avoid {
		r++
	}
	return r
}

// available reports whether e is available, reading the clock only for an
// endpoint that carries a down mark: Available(0) is true exactly when the
// mark is absent or lies before 1970, so healthy sets cost no clock read.
// The clock is read at most once per pick and cached in *now.
func (c *view) available(e *resilience.Endpoint) bool {
	if e.Available(0) {
		return true
	}
	if c.now == 0 {
		c.now = c.p.clock().UnixNano()
	}
	return e.Available(c.now)
}

// lighter reports whether a's load is at most b's, where load is
// (in-flight + 1) / weight. The +1 makes weights count on idle endpoints,
// where in-flight alone would be 0 for all of them; it does not change the
// order of equally weighted endpoints.
func (c *view) lighter(a, b *resilience.Endpoint) bool {
	return atMost(load(a), c.weight(a), load(b), c.weight(b))
}

// atMost reports whether la/wa <= lb/wb for positive wa and wb. It
// cross-multiplies in 128 bits, which cannot overflow for any uint64
// operands, so no floats or divisions are needed.
func atMost(la, wa, lb, wb uint64) bool {
	ahi, alo := bits.Mul64(la, wb)
	bhi, blo := bits.Mul64(lb, wa)
	return ahi < bhi || ahi == bhi && alo <= blo
}

// load returns e's requests in flight plus one. A negative count, left by an
// End without its Begin, counts as zero.
func load(e *resilience.Endpoint) uint64 {
	return uint64(max(e.InFlight(), 0)) + 1
}

// rampScale is the fixed-point unit of slow-start factors: while some
// endpoint ramps up, weights are multiplied by factor × rampScale, which
// keeps load comparisons in exact integer arithmetic.
const rampScale = 1 << 10

// weight returns e's weight, with 0 meaning 1, scaled by its slow-start
// factor while endpoints ramp up.
func (c *view) weight(e *resilience.Endpoint) uint64 {
	w := uint64(max(e.Weight, 1))
	if c.ramping {
		w *= uint64(c.p.ramp.Factor(e, c.now) * rampScale)
	}
	return w
}
