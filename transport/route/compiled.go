package route

import (
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/weftmesh/weft/security/claims"
)

// CompiledRoute is one route of a [Table], ready for the hot path. It is
// immutable and safe for concurrent use; every method may be called from
// any number of goroutines at once, does not block and does not allocate.
//
// A nil *CompiledRoute (what [Table.Match] returns when no route fits) is
// valid: it sends to every endpoint, injects no fault and mirrors nothing.
type CompiledRoute struct {
	index  int
	name   string
	source Route

	methods methodSet // 0: any method
	path    string    // exact path; "" when not set
	prefix  string    // path prefix; "" when not set
	headers []headerMatch
	claims  *claims.Requirement // nil: no condition

	split []splitEntry // subsets of positive weight, cumulative
	total uint64       // sum of the weights; 0 means every endpoint

	delay       time.Duration
	delayShare  float64 // from 0 to 1
	abortStatus int
	abortShare  float64
	mirror      string
	mirrorShare float64
}

type headerMatch struct {
	name  string // canonical, so that Header.Get does not allocate
	value string
}

type splitEntry struct {
	subset string
	cum    uint64 // sum of the weights up to and including this entry
}

// Name returns the route's name, or "routes[i]" for an unnamed route, for
// metrics and logs. It returns "" for a nil route.
func (c *CompiledRoute) Name() string {
	if c == nil {
		return ""
	}
	return c.name
}

// Index returns the route's position in the policy's route list, or -1 for
// a nil route.
func (c *CompiledRoute) Index() int {
	if c == nil {
		return -1
	}
	return c.index
}

// Config returns the route as written in the policy, for settings the
// compiled form does not interpret. Its maps, slice and pointers are shared
// with the table: do not modify them.
func (c *CompiledRoute) Config() Route {
	if c == nil {
		return Route{}
	}
	return c.source
}

// Timeout returns the route's timeout, or 0 when the service's timeout
// applies.
func (c *CompiledRoute) Timeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.source.Timeout
}

// PickSubset returns the subset a matched request goes to, chosen by weight
// from rnd, a uniformly random 64-bit number (rand.Uint64, or a hash of the
// request for sticky splits). It returns "" when the route has no `to`,
// meaning every endpoint of the service.
func (c *CompiledRoute) PickSubset(rnd uint64) string {
	if c == nil || c.total == 0 {
		return ""
	}
	// The high word of rnd*total is uniform over [0, total) for a uniform
	// rnd, without the bias of rnd%total or a division.
	x, _ := bits.Mul64(rnd, c.total)
	for i := range c.split {
		if x < c.split[i].cum {
			return c.split[i].subset
		}
	}
	return c.split[len(c.split)-1].subset
}

// Fault decides the faults injected into one matched request: a delay to
// wait before sending it (0 for none) and a status to fail it with instead
// of sending it (0 for none). The caller applies the delay first, bounded
// by the request's context. rnd returns uniform numbers in [0, 1), like
// rand.Float64, which is used when rnd is nil; Fault calls it once per
// configured fault and does not keep it.
func (c *CompiledRoute) Fault(rnd func() float64) (delay time.Duration, abortStatus int) {
	if c == nil {
		return 0, 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	if c.delayShare > 0 && rnd() < c.delayShare {
		delay = c.delay
	}
	if c.abortShare > 0 && rnd() < c.abortShare {
		abortStatus = c.abortStatus
	}
	return delay, abortStatus
}

// MirrorSubset decides whether one matched request is copied and returns
// the subset the copy goes to, or "" for no copy. rnd is as for
// [CompiledRoute.Fault]; it is called once when the route mirrors.
func (c *CompiledRoute) MirrorSubset(rnd func() float64) string {
	if c == nil || c.mirrorShare <= 0 {
		return ""
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	if rnd() < c.mirrorShare {
		return c.mirror
	}
	return ""
}
