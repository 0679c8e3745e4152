package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
)

// Attempter sends the attempts of one call for a protocol; R is what an
// attempt that got an answer returns (an *http.Response, a gRPC reply or
// stream).
type Attempter[R any] interface {
	// Attempt sends t within ctx, the attempt's own context, and returns
	// how it ended. It reports the endpoint's verdict ([Picked.Done]) and
	// the attempt's end to the observer ([Try.Finish]). For a hedged call
	// it runs on a goroutine of its own, concurrently with other
	// attempts of the call.
	Attempt(ctx context.Context, t *Try) Result[R]
	// Discard releases the answer of attempt t that is not the call's:
	// one that failed and is retried, or that lost to a hedge.
	Discard(t *Try, res Result[R])
	// Rewind prepares the call's request to be sent again and reports
	// whether it can be (a streamed body that was read cannot).
	Rewind() bool
}

// Result is how an attempt ended.
type Result[R any] struct {
	// Value is the answer; its zero value when none came.
	Value R
	// Err is why the attempt failed, nil when it got an answer the
	// protocol hands to its caller.
	Err error
	// Outcome is the attempt's outcome in the retry policy's terms; a
	// failure without an answer always has a Failure.
	Outcome retry.Outcome
	// RetryAfter is the server's Retry-After value, "" when none.
	RetryAfter string
}

// failed reports whether the attempt failed: no answer, or one the retry
// policy counts as a failure.
func (r Result[R]) failed() bool {
	return failed(r.Outcome) || r.Err != nil && r.Outcome == retry.Outcome{}
}

// Run sends c's attempts. ps, when not nil, is where the scheduler picks
// each attempt's endpoint before it starts (the attempt reads it with
// [Try.Picked]); when nil, the attempt picks with [Try.Pick] itself, as a
// gRPC balancer does. Attempts start from ctx; bound is the deadline that
// retries must fit in (ctx itself, or, for a stream, the timeout that
// bounds its opening). concurrent reports whether the protocol can send
// the call's attempts side by side, which hedging needs.
//
// Without hedging, an attempt that fails is retried after a jittered
// backoff (or the server's Retry-After) while the retry policy, the time
// left, the request's body and the retry budget allow. With hedging, each
// time the route's hedge delay passes without an answer another attempt
// starts on another endpoint, within the budget; the first attempt that
// does not fail wins and the others are cancelled and discarded. A call
// that finds no endpoint ends at once: the picker's answer is final.
//
// Run returns the last attempt and its result; the attempt is nil when
// none was made (no endpoint) or the call ended while waiting to retry.
// The caller releases the attempt ([Try.Release]) when done with its
// answer.
func Run[R any](ctx, bound context.Context, c *Call, a Attempter[R], ps *Pickers, concurrent bool) (*Try, Result[R]) {
	if concurrent && c.Hedged() {
		return hedged(ctx, c, a, ps, *c.route.Config().Hedge)
	}
	var avoid *resilience.Endpoint
	for n := 1; ; n++ {
		t, err := c.start(ctx, false, false, avoid, ps)
		if err != nil {
			return nil, Result[R]{Err: err}
		}
		res := a.Attempt(t.ctx, t)
		if !c.worthRetrying(n, t, res.failed(), res.Outcome) {
			return t, res
		}
		wait, ok := c.policy.Backoff.Pause(n, res.RetryAfter, c.d.st.now(), nil)
		if !ok || !timeLeft(bound, wait) || !a.Rewind() || !c.withdraw() {
			return t, res
		}
		a.Discard(t, res)
		t.Release()
		if err := sleep(bound, wait); err != nil {
			return nil, Result[R]{Err: fmt.Errorf("weft: %s: waiting to retry: %w", c.d.Service, err), Outcome: retry.Outcome{Failure: retry.Reset}}
		}
		avoid = t.Endpoint()
	}
}

// start makes the call's next attempt, picking its endpoint first when ps
// is set; the error says why no endpoint could be picked.
func (c *Call) start(ctx context.Context, hedge, concurrent bool, avoid *resilience.Endpoint, ps *Pickers) (*Try, error) {
	t := &c.first
	if c.tries > 0 {
		t = new(Try)
	}
	t.c, t.n, t.hedge, t.avoid, t.callCtx = c, c.tries+1, hedge, avoid, ctx
	switch {
	case c.policy.PerTryTimeout > 0:
		t.ctx, t.cancel = context.WithTimeout(ctx, c.policy.PerTryTimeout)
	case concurrent:
		t.ctx, t.cancel = context.WithCancel(ctx)
	default:
		t.ctx = ctx
	}
	if ps != nil {
		pk, err := t.Pick(ps)
		if err != nil {
			t.Release()
			return t, err
		}
		t.picked = pk
	}
	c.tries++
	if c.obs != nil {
		c.rec.Attempts++
		if hedge {
			c.rec.Hedges++
		}
	}
	return t, nil
}

// worthRetrying reports whether attempt n, which ended with o, may be
// retried: it failed on an endpoint while the call still runs, attempts
// remain, and the retry policy accepts the failure for this call (one the
// server may have processed only when the call is idempotent). The caller
// still needs time, a request it can send again and the budget's consent.
func (c *Call) worthRetrying(n int, t *Try, failed bool, o retry.Outcome) bool {
	if !failed || n >= c.policy.Attempts || t.Endpoint() == nil || t.callCtx.Err() != nil {
		return false
	}
	return retry.Retryable(c.policy, c.method, c.header, c.routeIdempotent, o)
}

// timeLeft reports whether a retry after wait still has time to run
// before ctx's deadline.
func timeLeft(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > wait
}
