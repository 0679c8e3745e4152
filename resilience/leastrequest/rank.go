package leastrequest

import (
	"math/bits"
	"time"

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

// rank returns the rank of e for a request that avoids avoid.
func rank(e, avoid *resilience.Endpoint, now *int64) int {
	r := usable
	if !available(e, now) {
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
func available(e *resilience.Endpoint, now *int64) bool {
	if e.Available(0) {
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	return e.Available(*now)
}

// lighter reports whether a's load is at most b's, where load is
// (in-flight + 1) / weight. The +1 makes weights count on idle endpoints,
// where in-flight alone would be 0 for all of them; it does not change the
// order of equally weighted endpoints.
func lighter(a, b *resilience.Endpoint) bool {
	return atMost(load(a), weight(a), load(b), weight(b))
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

// weight returns e's weight, with 0 meaning 1.
func weight(e *resilience.Endpoint) uint64 {
	return uint64(max(e.Weight, 1))
}
