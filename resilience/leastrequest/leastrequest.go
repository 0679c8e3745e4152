package leastrequest

import (
	"math/rand/v2"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "least_request"

// New returns the least-request [resilience.Builder]. The builder is
// stateless and safe for concurrent use.
func New() resilience.Builder { return builder{} }

type builder struct{}

// Build returns a picker over endpoints. The picker keeps the slice and
// never modifies it. An empty or nil set yields a picker whose Pick returns
// [resilience.ErrNoEndpoint].
//
// The returned picker's Pick is safe for concurrent use by any number of
// goroutines; it does not block and does not allocate.
func (builder) Build(endpoints []*resilience.Endpoint) resilience.Picker {
	return &picker{endpoints: endpoints}
}

type picker struct {
	endpoints []*resilience.Endpoint
}

// sampleRounds is how many random pairs a pick draws before it falls back
// to a full scan. A pair misses every usable endpoint with probability
// about f² when a fraction f of the set is down or avoided, so with f = 0.5
// one pick in 64 scans; a healthy set never does.
const sampleRounds = 3

// Pick returns the less loaded of two distinct random endpoints, where an
// available endpoint that is not info.Avoid always beats one that is down
// or avoided. When neither endpoint of a few random pairs is usable, it
// scans the whole set so that a usable endpoint is returned whenever one
// exists. A one-endpoint set returns its endpoint.
func (p *picker) Pick(info resilience.PickInfo) (*resilience.Endpoint, error) {
	eps := p.endpoints
	n := len(eps)
	switch n {
	case 0:
		return nil, resilience.ErrNoEndpoint
	case 1:
		return eps[0], nil
	}

	var now int64
	for range sampleRounds {
		i, j := pair(n)
		a, b := eps[i], eps[j]
		ra, rb := rank(a, info.Avoid, &now), rank(b, info.Avoid, &now)
		// On a tie a stays: it is as random a choice as b.
		if rb < ra || rb == ra && !lighter(a, b) {
			a, ra = b, rb
		}
		if ra == usable {
			return a, nil
		}
	}
	return scan(eps, info.Avoid, &now), nil
}

// pair returns two distinct random indexes below n, for 2 <= n < 2³². It
// maps each half of one random word onto its range by multiplying and
// shifting, which saves a random draw per pair (about 5 ns, a fifth of a
// pick) over two calls to rand.IntN; the bias this leaves is below n/2³².
func pair(n int) (i, j int) {
	r := rand.Uint64()
	i = int((r & 0xffffffff) * uint64(n) >> 32)
	j = int((r >> 32) * uint64(n-1) >> 32)
	if j >= i {
		j++
	}
	return i, j
}

// scan returns the best endpoint of the whole set by rank and then load,
// starting at a random position so that ties do not always go to the same
// endpoint.
func scan(eps []*resilience.Endpoint, avoid *resilience.Endpoint, now *int64) *resilience.Endpoint {
	n := len(eps)
	i := rand.IntN(n)
	best, bestRank := eps[i], rank(eps[i], avoid, now)
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		e := eps[i]
		r := rank(e, avoid, now)
		if r < bestRank || r == bestRank && !lighter(best, e) {
			best, bestRank = e, r
		}
	}
	return best
}
