package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
)

// hedged sends the call's first try and, each time h.Delay passes without
// an answer, another try to a different endpoint, up to h.Extra() more,
// each withdrawn from the retry budget. The first try that does not fail
// wins; the others are cancelled and their responses discarded. A try
// that fails is retried at once, as on the unhedged path, while the retry
// policy and the budget allow. When every try fails, the last failure is
// returned.
func (c *call) hedged(h retry.HedgeConfig) (*http.Response, error) {
	type result struct {
		i   int
		res *tryResult
	}
	results := make(chan result, 1+h.Extra()+c.policy.Attempts)
	var (
		cancels []context.CancelFunc
		avoid   *resilience.Endpoint
		pending int
		hedges  int // tries started by the timer
		retries int // tries started after a failure
	)
	start := func(hedge bool) error {
		ep, done, err := c.pick(avoid)
		if err != nil {
			return err
		}
		avoid = ep
		ctx, cancel := context.WithCancel(c.ctx)
		i := len(cancels)
		cancels = append(cancels, cancel)
		pending++
		n := c.nextAttempt(hedge)
		go func() { results <- result{i, c.sendTo(ctx, c.out, ep, done, n)} }()
		return nil
	}
	if err := start(false); err != nil {
		return c.finish(noEndpoint(err))
	}
	timer := time.NewTimer(h.Delay)
	defer timer.Stop()
	var last *tryResult
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			own, cancelTry := r.res.cancel, cancels[r.i]
			r.res.cancel = func() { own(); cancelTry() }
			if r.res.err == nil && !r.res.failed() {
				for i, cancel := range cancels {
					if i != r.i {
						cancel()
					}
				}
				// Cancelled tries return at once; their answers are
				// thrown away so that nothing leaks.
				for ; pending > 0; pending-- {
					(<-results).res.discard()
				}
				if last != nil {
					last.discard()
				}
				return c.finish(r.res)
			}
			if last != nil {
				last.discard()
			}
			last = r.res
			if retries+1 < c.policy.Attempts && c.worthRetrying(1, r.res) && c.withdraw() {
				if start(false) == nil {
					retries++
				}
			}
		case <-timer.C:
			if hedges < h.Extra() && c.withdraw() {
				if start(true) == nil {
					hedges++
				}
				timer.Reset(h.Delay)
			}
		}
	}
	return c.finish(last)
}
