package ringhash

import "github.com/weftmesh/weft/resilience"

// rank returns the rank of e for a request that avoids avoid, reading the
// clock into *now at most once per pick ([resilience.Ranking]).
func (p *picker) rank(e, avoid *resilience.Endpoint, now *int64) int {
	r := resilience.Ranking{Avoid: avoid, Now: *now, Clock: p.clock}
	rank := r.Rank(e)
	*now = r.Now
	return rank
}
