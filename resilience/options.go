package resilience

import (
	"math/rand/v2"
	"time"
)

// BuildOptions configures a balancer's [Builder]. Every balancer subpackage
// takes it in its New function, so that a caller can keep its own table
// from balancer name to constructor. The zero value is ready to use.
type BuildOptions struct {
	// SlowStart is the window over which an endpoint's weight ramps up,
	// linearly from 10% to 100%, after its [Endpoint] ReadySince, so that
	// a fresh instance (cold caches, empty connection pools) is not handed
	// its full share at once. If zero, slow start is off and every
	// endpoint has its full weight.
	SlowStart time.Duration
	// Now is the clock pickers read for slow start, latency decay and down
	// marks. It is called from Pick on any goroutine and must be safe for
	// concurrent use. If nil, time.Now is used.
	Now func() time.Time
	// Rand returns uniformly random 64-bit values for the pickers' random
	// choices. It is called from Pick on any goroutine and must be safe
	// for concurrent use. If nil, math/rand/v2's Uint64 is used.
	Rand func() uint64
}

// Clock returns o.Now, or time.Now when it is nil.
func (o BuildOptions) Clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// Random returns o.Rand, or math/rand/v2's Uint64 when it is nil.
func (o BuildOptions) Random() func() uint64 {
	if o.Rand == nil {
		return rand.Uint64
	}
	return o.Rand
}

// Options returns the first of opts, or the zero BuildOptions when there is
// none. Balancer constructors take their options variadically so that
// New() keeps meaning the defaults.
func Options(opts []BuildOptions) BuildOptions {
	if len(opts) == 0 {
		return BuildOptions{}
	}
	return opts[0]
}
