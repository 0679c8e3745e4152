package limit

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// minWindowSamples is the fewest requests a window needs before it
	// closes, so that a quiet period does not move the limit on the word
	// of one or two requests.
	minWindowSamples = 10
	// probeSamples is how many requests a Gradient probe measures.
	probeSamples = 10
	// aimdBackoff is AIMD's multiplicative decrease.
	aimdBackoff = 0.9
	// gradientFloor bounds how much one Gradient window shrinks the limit
	// (to half), so that one slow window cannot collapse it.
	gradientFloor = 0.5
	// smoothing is the weight of a new Gradient estimate against the
	// current limit.
	smoothing = 0.5
)

// adaptive learns a concurrency limit from request latencies. The limit is
// read without locking by every Acquire; samples are folded in under mu,
// which is held for a few arithmetic operations per request.
type adaptive struct {
	cfg AdaptiveConfig // defaults applied
	now func() time.Time

	limit atomic.Int64
	// epoch changes when a probe starts, so that the requests admitted
	// before it, at the old limit, do not count as probe samples.
	epoch atomic.Uint32

	mu          sync.Mutex
	winStart    time.Time
	sum         time.Duration
	n           int
	drops       int
	maxInFlight int64

	// Gradient
	noLoad       time.Duration // 0 until measured
	probing      bool
	probeRestore float64
	nextProbe    time.Time

	// est is the limit as a real number; limit is its rounded value.
	est float64
}

// newAdaptive returns an adaptive limit for cfg. If prev is not nil, the
// new limit starts where prev is (clamped to cfg's bounds) and keeps its
// no-load latency, so that a policy edit does not forget what was learned.
func newAdaptive(cfg AdaptiveConfig, now func() time.Time, prev *adaptive) *adaptive {
	cfg = cfg.withDefaults()
	a := &adaptive{cfg: cfg, now: now, est: float64(cfg.InitialLimit)}
	t := now()
	a.winStart = t
	if prev != nil {
		prev.mu.Lock()
		if !prev.probing {
			a.est = prev.est
		} else {
			a.est = prev.probeRestore
		}
		a.noLoad = prev.noLoad
		prev.mu.Unlock()
		a.est = math.Min(math.Max(a.est, float64(cfg.MinLimit)), float64(cfg.MaxLimit))
	}
	a.limit.Store(int64(math.Round(a.est)))
	if cfg.Algorithm == Gradient {
		if a.noLoad == 0 {
			// Measure the no-load latency before trusting any window.
			a.startProbe(t)
		} else {
			a.nextProbe = t.Add(cfg.ProbeInterval)
		}
	}
	return a
}

// current returns the limit in force.
func (a *adaptive) current() int64 { return a.limit.Load() }

// sample folds in one finished request: its latency, whether it was
// dropped, the requests in flight when it was admitted (itself included)
// and the epoch it was admitted in. Safe for concurrent use.
func (a *adaptive) sample(latency time.Duration, dropped bool, inFlight int64, epoch uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.probing && epoch != a.epoch.Load() {
		return
	}
	if latency < 0 {
		latency = 0
	}
	a.sum += latency
	a.n++
	if dropped {
		a.drops++
	}
	a.maxInFlight = max(a.maxInFlight, inFlight)

	if a.cfg.Algorithm == AIMD {
		a.aimdSample(latency, dropped, inFlight)
	}

	if a.probing {
		if a.n >= probeSamples {
			a.endProbe(a.now())
		}
		return
	}
	now := a.now()
	if a.n < minWindowSamples || now.Sub(a.winStart) < a.cfg.Window {
		return
	}
	avg := a.sum / time.Duration(a.n)
	switch a.cfg.Algorithm {
	case AIMD:
		a.aimdWindow(avg)
	default:
		a.gradientWindow(avg, now)
	}
	a.resetWindow(now)
}

func (a *adaptive) resetWindow(now time.Time) {
	a.winStart = now
	a.sum, a.n, a.drops, a.maxInFlight = 0, 0, 0, 0
}

func (a *adaptive) set(est float64) {
	a.est = math.Min(math.Max(est, float64(a.cfg.MinLimit)), float64(a.cfg.MaxLimit))
	a.limit.Store(int64(math.Round(a.est)))
}

// aimdSample grows the limit by 1/limit for a fast, successful request
// admitted while the limit was at least half used: one step per limit's
// worth of requests, like TCP's congestion avoidance. A limit that is not
// being used is not grown, or it would be meaningless when load arrives.
func (a *adaptive) aimdSample(latency time.Duration, dropped bool, inFlight int64) {
	if dropped || a.cfg.LatencyTarget > 0 && latency > a.cfg.LatencyTarget {
		return
	}
	if 2*inFlight >= a.limit.Load() {
		a.set(a.est + 1/a.est)
	}
}

// aimdWindow cuts the limit once per window that saw a drop or a mean
// latency over target; once per window rather than per drop, because the
// drops of one overload episode arrive together.
func (a *adaptive) aimdWindow(avg time.Duration) {
	if a.drops > 0 || a.cfg.LatencyTarget > 0 && avg > a.cfg.LatencyTarget {
		a.set(a.est * aimdBackoff)
	}
}

// gradientWindow applies limit = limit × gradient + √limit, where gradient
// is noLoad / avg clamped to [0.5, 1], smoothed half-way. At equilibrium
// the limit sits about √limit above the concurrency the backend serves
// without queueing: enough queue to keep it busy, little enough to keep
// latency near its no-load value.
func (a *adaptive) gradientWindow(avg time.Duration, now time.Time) {
	if avg > 0 && avg < a.noLoad {
		a.noLoad = avg
	}
	g := 1.0
	if avg > 0 {
		g = math.Min(1, math.Max(gradientFloor, float64(a.noLoad)/float64(avg)))
	}
	queue := math.Sqrt(a.est)
	if a.drops > 0 || g == 1 && 2*a.maxInFlight < a.limit.Load() {
		// Drops mean trouble whatever the latency says; an unused limit
		// has nothing to say about a bigger one.
		queue = 0
	}
	a.set(a.est*(1-smoothing) + (a.est*g+queue)*smoothing)
	if !now.Before(a.nextProbe) {
		a.startProbe(now)
	}
}

// startProbe holds concurrency at MinLimit until probeSamples requests
// admitted from now on have finished, to measure the no-load latency.
func (a *adaptive) startProbe(now time.Time) {
	a.probing = true
	a.probeRestore = a.est
	a.epoch.Add(1)
	a.limit.Store(int64(a.cfg.MinLimit))
	a.resetWindow(now)
}

func (a *adaptive) endProbe(now time.Time) {
	if a.n > 0 {
		a.noLoad = max(a.sum/time.Duration(a.n), 1)
	}
	a.probing = false
	a.set(a.probeRestore)
	a.nextProbe = now.Add(a.cfg.ProbeInterval)
	a.resetWindow(now)
}
