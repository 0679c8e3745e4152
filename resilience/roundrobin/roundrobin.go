package roundrobin

import (
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "round_robin"

// New returns the round-robin [resilience.Builder]. It uses the first of
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
// When weights differ, Build computes the picker's smooth weighted
// rotation for one whole cycle, in O(cycle × n) for a cycle of at most
// max([MaxCycle], 4n) turns. With slow start, while some endpoint is
// ramping up, picks follow a rotation recomputed on every pick under a
// short lock, in O(n).
//
// The returned picker's Pick is safe for concurrent use by any number of
// goroutines; it does not block and does not allocate.
func (b builder) Build(endpoints []*resilience.Endpoint) resilience.Picker {
	p := &picker{
		endpoints: endpoints,
		ramp:      resilience.NewRamp(endpoints, b.opts),
		clock:     b.opts.Clock(),
	}
	p.next.Store(b.opts.Random()())
	p.schedule = schedule(endpoints)
	if _, ramping := p.ramp.Active(); ramping {
		p.smooth = newSmooth(len(endpoints))
	}
	return p
}

type picker struct {
	endpoints []*resilience.Endpoint
	// next is the rotation position of the next pick. Concurrent picks
	// each claim their own position with one atomic add.
	next atomic.Uint64
	// schedule, when weights differ, is one cycle of the smooth weighted
	// rotation, as indexes into endpoints; nil when all weights are equal.
	schedule []uint32
	// smooth is the rotation state used while endpoints ramp up; nil when
	// no endpoint was ramping at Build.
	smooth *smooth
	ramp   *resilience.Ramp
	clock  func() time.Time
}

// Pick returns the endpoint whose turn it is, skipping endpoints that are
// marked down and info.Avoid. When no endpoint is both available and not
// avoided, it prefers an available avoided endpoint, then a down one that is
// not avoided, and returns an endpoint in every case but an empty set.
func (p *picker) Pick(info resilience.PickInfo) (*resilience.Endpoint, error) {
	eps := p.endpoints
	n := uint64(len(eps))
	switch n {
	case 0:
		return nil, resilience.ErrNoEndpoint
	case 1:
		return eps[0], nil
	}
	if now, ramping := p.ramp.Active(); ramping && p.smooth != nil {
		return p.smooth.pick(p, now, info.Avoid), nil
	}
	if p.schedule != nil {
		return p.pickScheduled(info.Avoid), nil
	}

	i := p.next.Add(1) % n
	var now int64
	// fallback is the best endpoint seen that is down or avoided, ranked
	// 1 (avoided, available) to 3 (avoided, down); skipped is its distance
	// from the starting position.
	var (
		fallback     *resilience.Endpoint
		fallbackRank int
		skipped      uint64
	)
	for k := range n {
		e := eps[i]
		up := p.available(e, &now)
		if up && e != info.Avoid {
			p.consume(k)
			return e, nil
		}
		rank := 2 // down and not avoided
		if up {
			rank = 1 // avoided but available
		} else if e == info.Avoid {
			rank = 3
		}
		if fallback == nil || rank < fallbackRank {
			fallback, fallbackRank, skipped = e, rank, k
		}
		if i++; i == n {
			i = 0
		}
	}
	p.consume(skipped)
	return fallback, nil
}

// consume advances the rotation past the k positions a pick skipped, so
// that the next pick starts after the endpoint it returned and skipped
// endpoints' turns go round the whole set rather than to the next in line.
func (p *picker) consume(k uint64) {
	if k > 0 {
		p.next.Add(k)
	}
}

// available reports whether e is available, reading the clock only for an
// endpoint that carries a down mark: Available(0) is true exactly when the
// mark is absent or lies before 1970, so healthy sets cost no clock read.
// The clock is read at most once per pick and cached in *now.
func (p *picker) available(e *resilience.Endpoint, now *int64) bool {
	if e.Available(0) {
		return true
	}
	if *now == 0 {
		*now = p.clock().UnixNano()
	}
	return e.Available(*now)
}
