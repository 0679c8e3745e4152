package roundrobin

import (
	"cmp"
	"slices"
	"sync"

	"github.com/weftmesh/weft/resilience"
)

// MaxCycle bounds the length of a weighted rotation's cycle (4 bytes per
// turn) for sets of up to MaxCycle/4 endpoints; larger sets get 4 turns
// per endpoint. When the weights, divided by their greatest common
// divisor, add up to more, they are scaled down in proportion, keeping at
// least one turn per endpoint, and the shares are then exact to within one
// turn per cycle.
const MaxCycle = 1 << 14

// schedule returns one cycle of the smooth weighted rotation over
// endpoints, as indexes, or nil when all weights are equal.
//
// Turn k of an endpoint of weight w (k = 0 … w-1) falls at (k + ½)/w of
// the cycle, and the turns are ordered by that position, ties going to the
// earlier endpoint. Each endpoint so gets exactly its weight in turns per
// cycle, spread as evenly as the others allow: weights 3 and 1 rotate
// A A B A, not A A A B. This is the order of Sainte-Laguë apportionment; it
// matches nginx's smooth weighted round robin in spirit, and, being a
// table, costs a pick one atomic add.
func schedule(endpoints []*resilience.Endpoint) []uint32 {
	n := len(endpoints)
	if n == 0 {
		return nil
	}
	weights := make([]uint64, n)
	var g uint64
	equal := true
	for i, e := range endpoints {
		weights[i] = uint64(max(e.Weight, 1))
		g = gcd(g, weights[i])
		equal = equal && weights[i] == weights[0]
	}
	if equal {
		return nil
	}
	var total uint64
	for i := range weights {
		weights[i] /= g
		total += weights[i]
	}
	if limit := uint64(max(MaxCycle, 4*n)); total > limit {
		scale := float64(limit) / float64(total)
		total = 0
		for i, w := range weights {
			weights[i] = max(uint64(float64(w)*scale), 1)
			total += weights[i]
		}
	}

	type turn struct {
		num, den uint64 // position (2k+1)/(2w) in the cycle
		owner    uint32
	}
	turns := make([]turn, 0, total)
	for i, w := range weights {
		for k := range w {
			turns = append(turns, turn{2*k + 1, 2 * w, uint32(i)})
		}
	}
	// Numerators and denominators are below 2·total ≤ 2³⁷, so the cross
	// products fit in 64 bits.
	slices.SortFunc(turns, func(a, b turn) int {
		return cmp.Or(cmp.Compare(a.num*b.den, b.num*a.den), cmp.Compare(a.owner, b.owner))
	})
	s := make([]uint32, len(turns))
	for i, t := range turns {
		s[i] = t.owner
	}
	return s
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pickScheduled returns the endpoint of the next turn of the weighted
// rotation. When that endpoint is down or avoided, it takes the next turn
// in the cycle whose endpoint has the best rank in the set, without
// consuming the turns it passes: the passed-over endpoint's turns go to
// whichever usable endpoint comes next in the cycle, which in a smooth
// cycle varies from turn to turn.
func (p *picker) pickScheduled(avoid *resilience.Endpoint) *resilience.Endpoint {
	s, eps := p.schedule, p.endpoints
	l := uint64(len(s))
	i := p.next.Add(1) % l
	var now int64
	e := eps[s[i]]
	if e != avoid && p.available(e, &now) {
		return e
	}
	best := avoidedDown
	for _, e := range eps {
		best = min(best, p.rank(e, avoid, &now))
	}
	for range l {
		if e := eps[s[i]]; p.rank(e, avoid, &now) == best {
			return e
		}
		if i++; i == l {
			i = 0
		}
	}
	return e // unreachable: the cycle holds every endpoint
}

// Ranks order endpoints: a pick takes the lowest rank present.
const (
	usable      = iota // available and not avoided
	avoidedUp          // avoided but available
	down               // down and not avoided
	avoidedDown        // avoided and down
)

// rank returns the rank of e for a request that avoids avoid.
func (p *picker) rank(e, avoid *resilience.Endpoint, now *int64) int {
	r := usable
	if !p.available(e, now) {
		r = down
	}
	if e == avoid {
		r++
	}
	return r
}

// smooth is nginx's smooth weighted round robin over weights that change
// from pick to pick, used while endpoints ramp up: each pick adds every
// candidate's current weight to its credit, takes the candidate with the
// most credit and charges it the sum of the weights.
type smooth struct {
	mu     sync.Mutex
	credit []float64 // per endpoint; guarded by mu
	ranks  []uint8   // per endpoint, scratch for one pick; guarded by mu
}

func newSmooth(n int) *smooth {
	return &smooth{credit: make([]float64, n), ranks: make([]uint8, n)}
}

// pick returns the next endpoint among those of the best rank present,
// weighted by their slow-start weights at now. It holds the lock for two
// passes over the set, with no call out.
func (s *smooth) pick(p *picker, now int64, avoid *resilience.Endpoint) *resilience.Endpoint {
	eps := p.endpoints
	s.mu.Lock()
	defer s.mu.Unlock()
	best := uint8(avoidedDown)
	for i, e := range eps {
		s.ranks[i] = uint8(p.rank(e, avoid, &now))
		best = min(best, s.ranks[i])
	}
	var total float64
	sel := -1
	for i, e := range eps {
		if s.ranks[i] != best {
			continue
		}
		w := resilience.Weight(e) * p.ramp.Factor(e, now)
		s.credit[i] += w
		total += w
		if sel < 0 || s.credit[i] > s.credit[sel] {
			sel = i
		}
	}
	s.credit[sel] -= total
	return eps[sel]
}
