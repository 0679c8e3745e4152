package peakewma

import (
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "peak_ewma"

// New returns the peak EWMA [resilience.Builder]. It uses the first of
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
// goroutines; it does not block and does not allocate. It reads the clock
// once per pick, to decay the latency averages.
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

// unmeasured is the latency, in nanoseconds, of an endpoint without an
// estimate while it has requests in flight: above any penalised estimate,
// so that it gets one probe at a time.
const unmeasured = float64(2 * resilience.MaxFailurePenalty)

// Pick returns the cheaper of two distinct random endpoints, where an
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
	c := costs{p: p, Ranking: resilience.Ranking{Avoid: info.Avoid, Now: p.clock().UnixNano(), Clock: p.clock}}
	_, c.ramping = p.ramp.Active()
	for range resilience.PickRounds {
		i, j := resilience.Pair(p.rand(), n)
		a, b := eps[i], eps[j]
		ra, rb := c.Rank(a), c.Rank(b)
		// On a tie a stays: it is as random a choice as b.
		if rb < ra || rb == ra && c.cost(b) < c.cost(a) {
			a, ra = b, rb
		}
		if ra == resilience.RankUsable {
			return a, nil
		}
	}
	return c.scan(int(p.rand() % uint64(n))), nil
}

// costs evaluates endpoints for one pick at one instant.
type costs struct {
	resilience.Ranking // Now is read once per pick, for the latencies
	p                  *picker
	ramping            bool
}

// cost returns e's latency × (in flight + 1) / weight at c.Now.
func (c *costs) cost(e *resilience.Endpoint) float64 {
	inFlight := max(e.InFlight(), 0)
	lat := e.Latency(c.Now)
	if lat == 0 {
		if inFlight == 0 {
			return 0
		}
		lat = unmeasured
	}
	w := resilience.Weight(e)
	if c.ramping {
		w *= c.p.ramp.Factor(e, c.Now)
	}
	return lat * float64(inFlight+1) / w
}

// scan returns the best endpoint of the whole set by rank and then cost,
// starting at index i so that ties do not always go to the same endpoint.
func (c *costs) scan(i int) *resilience.Endpoint {
	eps := c.p.endpoints
	n := len(eps)
	best := eps[i]
	bestRank, bestCost := c.Rank(best), c.cost(best)
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		e := eps[i]
		r := c.Rank(e)
		if r > bestRank {
			continue
		}
		if cost := c.cost(e); r < bestRank || cost < bestCost {
			best, bestRank, bestCost = e, r, cost
		}
	}
	return best
}
