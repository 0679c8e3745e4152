package leastrequest

import (
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "least_request"

// New returns the least-request [resilience.Builder]. It uses the first of
// opts, if any; New() uses the defaults. The builder is stateless and safe
// for concurrent use.
func New(opts ...resilience.BuildOptions) resilience.Builder {
	return builder{opts: resilience.Options(opts)}
}

type builder struct{ opts resilience.BuildOptions }

// Build returns a picker over endpoints. The picker keeps the slice and
// never modifies it. An empty or nil set yields a picker whose Pick returns
// [resilience.ErrNoEndpoint].
//
// The returned picker's Pick is safe for concurrent use by any number of
// goroutines; it does not block and does not allocate.
func (b builder) Build(endpoints []*resilience.Endpoint) resilience.Picker {
	return &picker{
		endpoints: endpoints,
		ramp:      resilience.NewRamp(endpoints, b.opts),
		clock:     b.opts.Clock(),
		rand:      b.opts.Random(),
	}
}

type picker struct {
	endpoints []*resilience.Endpoint
	ramp      *resilience.Ramp
	clock     func() time.Time
	rand      func() uint64
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

	var c view
	c.p = p
	c.now, c.ramping = p.ramp.Active()
	for range sampleRounds {
		i, j := pair(p.rand(), n)
		a, b := eps[i], eps[j]
		ra, rb := c.rank(a, info.Avoid), c.rank(b, info.Avoid)
		// On a tie a stays: it is as random a choice as b.
		if rb < ra || rb == ra && !c.lighter(a, b) {
			a, ra = b, rb
		}
		if ra == usable {
			return a, nil
		}
	}
	return c.scan(info.Avoid), nil
}

// pair returns two distinct indexes below n, for 2 <= n < 2³², from the
// random word r. It maps each half of r onto its range by multiplying and
// shifting, which saves a random draw per pair (about 5 ns, a fifth of a
// pick) over two calls to rand.IntN; the bias this leaves is below n/2³².
func pair(r uint64, n int) (i, j int) {
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
func (c *view) scan(avoid *resilience.Endpoint) *resilience.Endpoint {
	eps := c.p.endpoints
	n := len(eps)
	i := int(c.p.rand() % uint64(n))
	best, bestRank := eps[i], c.rank(eps[i], avoid)
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		e := eps[i]
		r := c.rank(e, avoid)
		if r < bestRank || r == bestRank && !c.lighter(best, e) {
			best, bestRank = e, r
		}
	}
	return best
}
