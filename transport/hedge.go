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
// wins; the others are cancelled and their responses discarded. When every
// try fails, the last failure is returned.
func (c *call) hedged(h retry.HedgeConfig) (*http.Response, error) {
	type result struct {
		i   int
		res *tryResult
	}
	results := make(chan result, 1+h.Extra())
	var (
		cancels []context.CancelFunc
		avoid   *resilience.Endpoint
		pending int
	)
	start := func() error {
		ep, done, err := c.pick(avoid)
		if err != nil {
			return err
		}
		avoid = ep
		ctx, cancel := context.WithCancel(c.ctx)
		i := len(cancels)
		cancels = append(cancels, cancel)
		pending++
		go func() { results <- result{i, c.sendTo(ctx, c.out, ep, done)} }()
		return nil
	}
	if err := start(); err != nil {
		return c.finish(noEndpoint(err))
	}
	timer := time.NewTimer(h.Delay)
	defer timer.Stop()
	var last *tryResult
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			own := r.res.cancel
			cancelTry := cancels[r.i]
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
		case <-timer.C:
			if len(cancels) <= h.Extra() && c.d.state.budget.TryWithdraw() && start() == nil {
				timer.Reset(h.Delay)
			}
		}
	}
	return c.finish(last)
}
