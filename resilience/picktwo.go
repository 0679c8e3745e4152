package resilience

import "time"

// Ranks order endpoints before their load, cost or weight is considered:
// a lower rank always wins. An avoided endpoint that is available beats a
// down one, because a down mark records a failure to connect at all,
// while Avoid only records that this one request failed there. Every
// balancer ranks the same way, with [Ranking].
const (
	RankUsable      = iota // available and not avoided
	RankAvoidedUp          // avoided but available
	RankDown               // down and not avoided
	RankAvoidedDown        // avoided and down
)

// Ranking ranks the endpoints of one pick. It reads the clock only for an
// endpoint that carries a down or ejection mark, at most once per pick:
// Available(0) is true exactly when no mark is set, so a healthy set costs
// no clock read. A zero Now means "not read yet"; a picker that read the
// clock already sets it.
type Ranking struct {
	Avoid *Endpoint
	Now   int64 // unix nanoseconds
	Clock func() time.Time
}

// Rank returns e's rank for the pick.
func (r *Ranking) Rank(e *Endpoint) int {
	rank := RankUsable
	if !e.Available(0) {
		if r.Now == 0 {
			r.Now = r.Clock().UnixNano()
		}
		if !e.Available(r.Now) {
			rank = RankDown
		}
	}
	if e == r.Avoid {
		rank++
	}
	return rank
}

// PickRounds is how many random pairs a power-of-two-choices picker
// (least_request, peak_ewma) draws before it falls back to a full scan. A
// pair misses every usable endpoint with probability about f² when a
// fraction f of the set is down or avoided, so with f = 0.5 one pick in 64
// scans; a healthy set never does.
const PickRounds = 3

// Pair returns two distinct indexes below n, for 2 <= n < 2³², from the
// random word r: the candidates of one power-of-two-choices round. It maps
// each half of r onto its range by multiplying and shifting, which saves a
// random draw per pair (about 5 ns, a fifth of a pick) over two calls to
// rand.IntN; the bias this leaves is below n/2³².
func Pair(r uint64, n int) (i, j int) {
	i = int((r & 0xffffffff) * uint64(n) >> 32)
	j = int((r >> 32) * uint64(n-1) >> 32)
	if j >= i {
		j++
	}
	return i, j
}
