package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/route"
)

// startCall tells the router's observer, if any, that a call to d starts,
// and returns the call's context and record; the record is nil without an
// observer, and its methods then do nothing.
func (r *Router) startCall(ctx context.Context, d *destination, rt *route.CompiledRoute, req *http.Request) (context.Context, *CallInfo) {
	obs := r.currentObserver()
	if obs == nil {
		return ctx, nil
	}
	c := &CallInfo{
		Protocol: ProtocolHTTP, Source: r.source, Destination: d.service,
		Method: req.Method, Path: req.URL.Path, Route: rt.Name(), Start: time.Now(),
		Balancer: d.cfg.LoadBalancer, obs: obs,
	}
	c.ctx = obs.StartCall(ctx, c)
	return c.ctx, c
}

// fail ends an observed call that got no response.
func (c *CallInfo) fail(err error) {
	if c != nil {
		c.Err = err
		c.finish()
	}
}

// answered ends an observed call answered without an attempt, such as an
// injected fault.
func (c *CallInfo) answered(status int, endpoint string) {
	if c != nil {
		c.Status, c.Endpoint = status, endpoint
		c.finish()
	}
}

// finish tells the observer that the call is over.
func (c *CallInfo) finish() {
	if c != nil {
		c.End = time.Now()
		c.obs.EndCall(c.ctx, c)
	}
}

// attemptNumber says which attempt of its call a try is.
type attemptNumber struct {
	n     int
	hedge bool
}

// nextAttempt counts an attempt about to start. It runs on the call's own
// goroutine, so that the counts need no lock.
func (c *call) nextAttempt(hedge bool) attemptNumber {
	if c.obs == nil {
		return attemptNumber{}
	}
	c.obs.Attempts++
	if hedge {
		c.obs.Hedges++
	}
	return attemptNumber{c.obs.Attempts, hedge}
}

// withdraw takes a retry or hedge from the destination's budget, noting
// when the budget refuses.
func (c *call) withdraw() bool {
	if c.d.state.budget.TryWithdraw() {
		return true
	}
	if c.obs != nil {
		c.obs.BudgetExhausted = true
	}
	return false
}

// observedTry is what the observer is told of one try, and where it
// writes the try's trace context.
type observedTry struct {
	attempt AttemptInfo
	header  attemptHeader
}

// startAttempt tells the observer that res's try starts and returns the
// try's context. The observer writes trace context into the try's own
// header carrier, which copies out's headers on the first write.
func (c *call) startAttempt(ctx context.Context, res *tryResult, out *http.Request, n attemptNumber) context.Context {
	if c.obs == nil {
		return ctx
	}
	t := &observedTry{header: attemptHeader{shared: out.Header}}
	t.attempt = AttemptInfo{N: n.n, Hedge: n.hedge, Endpoint: res.ep.Addr, Node: res.ep.Node, Start: time.Now(), Carrier: &t.header}
	res.observed = t
	return c.obs.obs.StartAttempt(ctx, c.obs, &t.attempt)
}

// endAttempt tells the observer how res's try ended and keeps its record.
func (c *call) endAttempt(ctx context.Context, res *tryResult, err error, abandoned bool) {
	if c.obs == nil {
		return
	}
	a := &res.observed.attempt
	a.End = time.Now()
	a.Err = err
	a.Outcome = attemptOutcome(res, abandoned)
	if res.resp != nil {
		a.Status = res.resp.StatusCode
		a.TLS = res.resp.TLS
	}
	c.obs.RecordAttempt(a)
	c.obs.obs.EndAttempt(ctx, c.obs, a)
}

func attemptOutcome(res *tryResult, abandoned bool) string {
	switch {
	case abandoned:
		return "cancelled"
	case res.outcome.Failure == retry.ConnectFailure:
		return "connect-failure"
	case res.outcome.Failure == retry.Timeout:
		return "timeout"
	case res.outcome.Failure != retry.NoFailure:
		return "reset"
	case res.failed():
		return "error"
	}
	return "ok"
}

// breakerDone reports a try's outcome to the endpoint's breaker, noting
// for the observer when that opens or closes the breaker.
func (c *call) breakerDone(res *tryResult, done func(bool), success bool) {
	if c.obs == nil {
		done(success)
		return
	}
	set, addr := c.d.state.breakers, res.ep.Addr
	before := set.State(addr)
	done(success)
	after := set.State(addr)
	res.observed.attempt.BreakerOpened = before != breaker.Open && after == breaker.Open
	res.observed.attempt.BreakerClosed = before != breaker.Closed && after == breaker.Closed
}

// outlierObserve reports a try's outcome to outlier detection, noting for
// the observer when that ejects the endpoint.
func (c *call) outlierObserve(res *tryResult, d *outlier.Detector) {
	addr := res.ep.Addr
	if c.obs == nil {
		d.Observe(addr, outlierOutcome(res.outcome))
		return
	}
	before := d.Ejected(addr)
	d.Observe(addr, outlierOutcome(res.outcome))
	res.observed.attempt.Ejected = !before && d.Ejected(addr)
}
