package leastrequest

import (
	"math/bits"

	"github.com/weftmesh/weft/resilience"
)

// view evaluates endpoints for one pick: their rank, then their load.
type view struct {
	resilience.Ranking
	p *picker
	// ramping reports that some endpoint may be ramping up; Now is then
	// set.
	ramping bool
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
		w *= uint64(c.p.ramp.Factor(e, c.Now) * rampScale)
	}
	return w
}
