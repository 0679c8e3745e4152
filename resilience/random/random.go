package random

import (
	"math/bits"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "random"

// New returns the weighted random [resilience.Builder]. It uses the first
// of opts, if any; New() uses the defaults. The builder is stateless and
// safe for concurrent use.
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
	p := &picker{
		endpoints: endpoints,
		ramp:      resilience.NewRamp(endpoints, b.opts),
		clock:     b.opts.Clock(),
		rand:      b.opts.Random(),
		uniform:   true,
	}
	p.cumulative = make([]uint64, len(endpoints))
	var sum uint64
	for i, e := range endpoints {
		sum += uint64(max(e.Weight, 1))
		p.cumulative[i] = sum
		if e.Weight != endpoints[0].Weight {
			p.uniform = false
		}
	}
	return p
}

type picker struct {
	endpoints []*resilience.Endpoint
	// cumulative[i] is the sum of the weights of endpoints[:i+1].
	cumulative []uint64
	uniform    bool // all weights equal
	ramp       *resilience.Ramp
	clock      func() time.Time
	rand       func() uint64
}

// sampleRounds is how many weighted draws a pick makes before it falls
// back to a scan of the set. All of them miss every usable endpoint with
// probability f³ when a share f of the weight is down or avoided.
const sampleRounds = 3

// Pick returns a random endpoint, drawn in proportion to its weight among
// the endpoints that are available and not info.Avoid. When there is none,
// it draws among the best of the rest: available but avoided, then down,
// then down and avoided. A one-endpoint set returns its endpoint.
func (p *picker) Pick(info resilience.PickInfo) (*resilience.Endpoint, error) {
	eps := p.endpoints
	switch len(eps) {
	case 0:
		return nil, resilience.ErrNoEndpoint
	case 1:
		return eps[0], nil
	}
	now, ramping := p.ramp.Active()
	for range sampleRounds {
		var e *resilience.Endpoint
		if ramping {
			e = p.drawRanked(now, true, -1, info.Avoid)
		} else {
			e = eps[p.draw()]
		}
		if p.rank(e, info.Avoid, &now) == resilience.RankUsable {
			return e, nil
		}
	}
	best := resilience.RankAvoidedDown
	for _, e := range eps {
		best = min(best, p.rank(e, info.Avoid, &now))
	}
	return p.drawRanked(now, ramping, best, info.Avoid), nil
}

// draw returns the index of an endpoint drawn in proportion to its full
// weight, in O(log n).
func (p *picker) draw() int {
	n := uint64(len(p.endpoints))
	if p.uniform {
		i, _ := bits.Mul64(p.rand(), n)
		return int(i)
	}
	x, _ := bits.Mul64(p.rand(), p.cumulative[n-1])
	// The first i with cumulative[i] > x.
	lo, hi := 0, int(n)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.cumulative[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// drawRanked returns an endpoint drawn in proportion to its weight, ramped
// when ramping, among the endpoints of rank want (any rank when want < 0).
// At least one endpoint has rank want. It takes O(n); picks use it only
// while some endpoint is ramping up or when a few draws found no usable
// endpoint.
func (p *picker) drawRanked(now int64, ramping bool, want int, avoid *resilience.Endpoint) *resilience.Endpoint {
	eps := p.endpoints
	var total float64
	clock := now
	for _, e := range eps {
		if want < 0 || p.rank(e, avoid, &clock) == want {
			total += p.weight(e, now, ramping)
		}
	}
	x := float64(p.rand()>>11) / (1 << 53) * total
	var last *resilience.Endpoint
	for _, e := range eps {
		if want >= 0 && p.rank(e, avoid, &clock) != want {
			continue
		}
		last = e
		if x -= p.weight(e, now, ramping); x < 0 {
			return e
		}
	}
	if last == nil {
		// Marks changed between the passes; any endpoint will do.
		return eps[0]
	}
	return last // rounding left x at or just above zero
}

// weight returns e's weight, scaled by its slow-start factor when ramping.
func (p *picker) weight(e *resilience.Endpoint, now int64, ramping bool) float64 {
	w := resilience.Weight(e)
	if ramping {
		w *= p.ramp.Factor(e, now)
	}
	return w
}
