package random

import "github.com/weftmesh/weft/resilience"

// Ranks order endpoints before weight is considered: a pick draws only
// among the endpoints of the lowest rank present.
const (
	usable      = iota // available and not avoided
	avoidedUp          // avoided but available
	down               // down and not avoided
	avoidedDown        // avoided and down
)

// rank returns the rank of e for a request that avoids avoid. It reads the
// clock only for an endpoint that carries a down mark, at most once per
// pick, caching the reading in *now.
func (p *picker) rank(e, avoid *resilience.Endpoint, now *int64) int {
	r := usable
	if !e.Available(0) {
		if *now == 0 {
			*now = p.clock().UnixNano()
		}
		if !e.Available(*now) {
			r = down
		}
	}
	if e == avoid {
		r++
	}
	return r
}
