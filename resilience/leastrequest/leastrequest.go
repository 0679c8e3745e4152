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

	c := view{p: p, Ranking: resilience.Ranking{Avoid: info.Avoid, Clock: p.clock}}
	c.Now, c.ramping = p.ramp.Active()
	for range resilience.PickRounds {
		i, j := resilience.Pair(p.rand(), n)
		a, b := eps[i], eps[j]
		ra, rb := c.Rank(a), c.Rank(b)
		// On a tie a stays: it is as random a choice as b.
		if rb < ra || rb == ra && !c.lighter(a, b) {
			a, ra = b, rb
		}
		if ra == resilience.RankUsable {
			return a, nil
		}
	}
	return c.scan(), nil
}

// scan returns the best endpoint of the whole set by rank and then load,
// starting at a random position so that ties do not always go to the same
// endpoint.
func (c *view) scan() *resilience.Endpoint {
	eps := c.p.endpoints
	n := len(eps)
	i := int(c.p.rand() % uint64(n))
	best, bestRank := eps[i], c.Rank(eps[i])
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		e := eps[i]
		r := c.Rank(e)
		if r < bestRank || r == bestRank && !c.lighter(best, e) {
			best, bestRank = e, r
		}
	}
	return best
}
