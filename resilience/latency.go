package resilience

import (
	"math"
	"time"
)

// LatencyDecay is the time constant of the latency estimate kept by
// [Endpoint.Observe]: an observation's influence falls to 1/e after this
// long. Ten seconds follows Finagle and Linkerd: long enough to smooth
// per-request noise, short enough that an endpoint that slowed down or
// failed is retried within a minute of recovering.
const LatencyDecay = 10 * time.Second

// FailurePenalty is the least latency a failed attempt counts as. A failed
// attempt is observed as max(rtt, min(max(FailurePenalty, 2×estimate),
// MaxFailurePenalty)), where estimate is the endpoint's current latency
// estimate: an endpoint that answers errors in a millisecond must look
// slower, not faster, than a healthy one, and slower still than its own
// past so that repeated failures push it further away.
const FailurePenalty = time.Second

// MaxFailurePenalty bounds the penalty of a failed attempt, so that an
// endpoint failing for a long time is tried again within a few
// [LatencyDecay] periods of going quiet.
const MaxFailurePenalty = 30 * time.Second

// Observe records the round-trip time of one attempt on e, read at the
// current time; failed reports that the attempt failed (a connection error
// or a response the caller counts as a failure, such as a 5xx). It is
// [Endpoint.ObserveAt] at time.Now.
func (e *Endpoint) Observe(rtt time.Duration, failed bool) { e.ObserveAt(time.Now(), rtt, failed) }

// ObserveAt records the round-trip time of one attempt on e that ended at
// now; failed reports that the attempt failed.
//
// The estimate is a peak-sensitive exponentially weighted moving average:
// an observation slower than the estimate replaces it at once, a faster
// one moves it towards itself with weight 1 - exp(-Δt/[LatencyDecay]),
// where Δt is the time since the previous observation. A failed attempt is
// penalised as [FailurePenalty] describes.
//
// ObserveAt is safe for concurrent use, never blocks and does not
// allocate; concurrent observations are all applied, each one atomically.
// Observations that arrive out of time order count as simultaneous with
// the latest one.
func (e *Endpoint) ObserveAt(now time.Time, rtt time.Duration, failed bool) {
	t := now.UnixNano()
	// Claim the interval since the previous observation, so that
	// concurrent observers decay the estimate over disjoint intervals
	// whose factors multiply to the decay over the whole time.
	var dt int64
	for {
		prev := e.rttStamp.Load()
		if t <= prev {
			break
		}
		if e.rttStamp.CompareAndSwap(prev, t) {
			if prev != 0 {
				dt = t - prev
			}
			break
		}
	}
	w := math.Exp(-float64(dt) / float64(LatencyDecay))
	sample := float64(max(rtt, 0))
	for {
		bits := e.rtt.Load()
		cur := math.Float64frombits(bits)
		s := sample
		if failed {
			penalty := min(max(float64(FailurePenalty), 2*cur), float64(MaxFailurePenalty))
			s = max(s, penalty)
		}
		next := s
		if s <= cur {
			next = cur*w + s*(1-w)
		}
		if e.rtt.CompareAndSwap(bits, math.Float64bits(next)) {
			return
		}
	}
}

// Latency returns e's latency estimate in nanoseconds at now (unix
// nanoseconds), decayed towards zero for the time since the latest
// observation, so that an endpoint left alone after a slow or failed spell
// is tried again. It
// returns 0 for an endpoint never observed.
//
// Latency is safe for concurrent use, never blocks and does not allocate.
// It reads the estimate and its timestamp without a lock; a concurrent
// [Endpoint.ObserveAt] may make one read decay from a slightly newer
// timestamp, which the next read corrects.
func (e *Endpoint) Latency(now int64) float64 {
	cur := math.Float64frombits(e.rtt.Load())
	if cur == 0 {
		return 0
	}
	if dt := now - e.rttStamp.Load(); dt > 0 {
		cur *= math.Exp(-float64(dt) / float64(LatencyDecay))
	}
	return cur
}
