package ringhash

import (
	"cmp"
	"slices"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Name is the name under which configuration selects this balancer.
const Name = "ring_hash"

// VirtualNodes is the number of ring points per unit of weight. With 100
// points an endpoint's share of the keys is within a few percent of its
// weight's share.
const VirtualNodes = 100

// MaxRingSize bounds the number of points on one ring (12 bytes each). When
// the weights ask for more, every endpoint's count is scaled down in
// proportion, keeping at least one point each.
const MaxRingSize = 1 << 17

// New returns the ring-hash [resilience.Builder]. It uses the first of
// opts, if any; New() uses the defaults. The builder is stateless and safe
// for concurrent use.
func New(opts ...resilience.BuildOptions) resilience.Builder {
	return builder{opts: resilience.Options(opts)}
}

type builder struct{ opts resilience.BuildOptions }

// Build returns a picker over endpoints, building its ring in O(r log r)
// for r points. The picker keeps the slice and never modifies it. An empty
// or nil set yields a picker whose Pick returns [resilience.ErrNoEndpoint].
//
// The returned picker's Pick is safe for concurrent use by any number of
// goroutines; it does not block and does not allocate.
func (b builder) Build(endpoints []*resilience.Endpoint) resilience.Picker {
	p := &picker{
		endpoints: endpoints,
		bases:     make([]uint64, len(endpoints)),
		ramp:      resilience.NewRamp(endpoints, b.opts),
		clock:     b.opts.Clock(),
		rand:      b.opts.Random(),
	}
	var total uint64
	for _, e := range endpoints {
		total += uint64(max(e.Weight, 1)) * VirtualNodes
	}
	type entry struct {
		hash  uint64
		owner uint32
	}
	ring := make([]entry, 0, min(total, MaxRingSize+uint64(len(endpoints))))
	for i, e := range endpoints {
		p.bases[i] = Key(e.Addr)
		count := uint64(max(e.Weight, 1)) * VirtualNodes
		if total > MaxRingSize {
			count = max(count*MaxRingSize/total, 1)
		}
		for v := range int(count) {
			ring = append(ring, entry{point(p.bases[i], v), uint32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.owner, b.owner))
	})
	p.hashes = make([]uint64, len(ring))
	p.owners = make([]uint32, len(ring))
	for i, r := range ring {
		p.hashes[i], p.owners[i] = r.hash, r.owner
	}
	return p
}

type picker struct {
	endpoints []*resilience.Endpoint
	bases     []uint64 // Key of each endpoint's address
	// The ring: point hashes in ascending order and, for each, the index
	// in endpoints of its owner. Two slices rather than one of pairs keep
	// the binary search on densely packed hashes.
	hashes []uint64
	owners []uint32
	ramp   *resilience.Ramp
	clock  func() time.Time
	rand   func() uint64
}

// Pick returns the owner of the first ring point at or after info.Hash, or
// after a random key when info.HasHash is false. When that endpoint is
// down or avoided, it walks on along the ring to the next endpoint with the
// best rank present: available and not avoided, then available but
// avoided, then down, then down and avoided.
func (p *picker) Pick(info resilience.PickInfo) (*resilience.Endpoint, error) {
	eps := p.endpoints
	switch len(eps) {
	case 0:
		return nil, resilience.ErrNoEndpoint
	case 1:
		return eps[0], nil
	}
	key := info.Hash
	if !info.HasHash {
		key = p.rand()
	}
	i := p.search(key)
	now, ramping := p.ramp.Active()
	var top float64 // the largest slow-start factor in the set
	if ramping {
		for _, e := range eps {
			top = max(top, p.ramp.Factor(e, now))
		}
	}

	e := eps[p.owners[i]]
	if p.rank(e, info.Avoid, &now) == resilience.RankUsable && (!ramping || p.accepts(p.owners[i], key, now, top)) {
		return e, nil
	}
	return p.walk(i, key, info.Avoid, now, ramping, top), nil
}

// search returns the index of the first ring point at or after key,
// wrapping to 0 past the last one.
func (p *picker) search(key uint64) int {
	lo, hi := 0, len(p.hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.hashes[mid] < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(p.hashes) {
		return 0
	}
	return lo
}

// walk returns the first endpoint on the ring from point i on that has the
// best rank in the set and, while ramping, accepts key. It is the slow
// path: it first ranks the whole set in O(n), then walks about as many
// points as the ring holds per endpoint of that rank. If no endpoint of
// the best rank accepts the key, it returns the first of that rank.
// Pickers never fail a request on health marks alone, so when concurrent
// marks leave no endpoint of that rank, it returns the one at point i.
func (p *picker) walk(i int, key uint64, avoid *resilience.Endpoint, now int64, ramping bool, top float64) *resilience.Endpoint {
	eps := p.endpoints
	best := resilience.RankAvoidedDown
	for _, e := range eps {
		best = min(best, p.rank(e, avoid, &now))
	}
	var first *resilience.Endpoint
	for range len(p.hashes) {
		o := p.owners[i]
		e := eps[o]
		if p.rank(e, avoid, &now) == best {
			if !ramping || p.accepts(o, key, now, top) {
				return e
			}
			if first == nil {
				first = e
			}
		}
		if i++; i == len(p.hashes) {
			i = 0
		}
	}
	if first == nil {
		// Marks changed while walking; any endpoint will do.
		return eps[p.owners[i]]
	}
	return first
}

// accepts reports whether the endpoint at index o keeps key while ramping
// up: a hash of the key and the endpoint, read as a fraction, falls below
// its slow-start factor relative to top. The hash makes the answer the same
// for every request with the key, and a key accepted at one factor stays
// accepted as the factor grows.
func (p *picker) accepts(o uint32, key uint64, now int64, top float64) bool {
	f := p.ramp.Factor(p.endpoints[o], now) / top
	if f >= 1 {
		return true
	}
	u := float64(mix(key^p.bases[o])>>11) / (1 << 53)
	return u < f
}
