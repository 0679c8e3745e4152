package engine

import (
	"context"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
)

// hedged runs a hedged call: its first attempt and, each time h.Delay
// passes without an answer, another on a different endpoint, up to
// h.Extra() more, each withdrawn from the retry budget. An attempt that
// fails is retried at once, as on the unhedged path, while the retry
// policy and the budget allow. The first attempt that does not fail wins;
// the others are cancelled, waited for and discarded, so that nothing
// outlives the call. When every attempt fails, the last failure is
// returned.
func hedged[R any](ctx context.Context, c *Call, a Attempter[R], ps *Pickers, h retry.HedgeConfig) (*Try, Result[R]) {
	type done struct {
		t   *Try
		res Result[R]
	}
	results := make(chan done, 1+h.Extra()+c.policy.Attempts)
	var (
		tries   []*Try
		pending int
		hedges  int // attempts started by the timer
		retries int // attempts started after a failure
	)
	// start begins an attempt, avoiding the endpoint of the newest one.
	start := func(hedge bool) error {
		t, err := c.start(ctx, hedge, true, c.latest(tries), ps)
		if err != nil {
			return err
		}
		tries = append(tries, t)
		pending++
		go func() { results <- done{t, a.Attempt(t.ctx, t)} }()
		return nil
	}
	if err := start(false); err != nil {
		return nil, Result[R]{Err: err}
	}
	// The last failure is the call's answer if nothing better comes.
	timer := time.NewTimer(h.Delay)
	defer timer.Stop()
	var last done
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if !r.res.failed() {
				for _, t := range tries {
					if t != r.t {
						t.lost.Store(true)
						t.Release()
					}
				}
				// Cancelled attempts return at once; their answers are
				// thrown away so that nothing leaks.
				for ; pending > 0; pending-- {
					l := <-results
					a.Discard(l.t, l.res)
				}
				if last.t != nil {
					a.Discard(last.t, last.res)
					last.t.Release()
				}
				return r.t, r.res
			}
			if last.t != nil {
				a.Discard(last.t, last.res)
				last.t.Release()
			}
			last = r
			if retries+1 < c.policy.Attempts && c.worthRetrying(1, r.t, true, r.res.Outcome) && c.withdraw() {
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
	return last.t, last.res
}

// latest returns the endpoint of the newest attempt, nil if none was
// picked yet.
func (c *Call) latest(tries []*Try) *resilience.Endpoint {
	if len(tries) == 0 {
		return nil
	}
	return tries[len(tries)-1].Endpoint()
}
