package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport/route"
)

// maxReplayBody is the largest request body buffered so that it can be
// sent again; a larger body is sent once (or again only after a connection
// failure, when none of it was read).
const maxReplayBody = 64 << 10

// call is one client request to a mesh service, across all its tries.
type call struct {
	r      *Router
	d      *destination
	rt     *route.CompiledRoute // nil when no route matched
	picker resilience.Picker
	req    *http.Request // the caller's request, never modified
	out    *http.Request // the copy sent, its URL host set per try
	body   *requestBody
	ctx    context.Context // bounded by the call's timeout
	cancel context.CancelFunc
	policy retry.Config
	// info carries the request's hash key to the picker.
	info resilience.PickInfo
	// routeIdempotent is the matched route's idempotent flag.
	routeIdempotent bool
	// retryable reports whether the request may be sent twice when it may
	// have reached the server: idempotent method, idempotent route or
	// Idempotency-Key.
	retryable bool
	// obs is what the router's observer is told of the call; nil without
	// an observer.
	obs *CallInfo
}

// send delivers req to d, following the matched route's split, faults and
// mirror, with the destination's retries, hedges, breakers and outlier
// detection.
func (r *Router) send(d *destination, req *http.Request) (*http.Response, error) {
	rt := d.routes.Match(req)
	timeout := d.cfg.Timeout
	if t := rt.Timeout(); t > 0 {
		timeout = t
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	ctx, obs := r.startCall(ctx, d, rt, req)
	if delay, abort := rt.Fault(rand.Float64); delay > 0 || abort != 0 {
		if err := sleep(ctx, delay); err != nil {
			cancel()
			closeBody(req)
			err = fmt.Errorf("transport: %s: during an injected delay: %w", d.service, err)
			obs.fail(err)
			return nil, err
		}
		if abort != 0 {
			cancel()
			closeBody(req)
			obs.answered(abort, "")
			return faultResponse(req, abort), nil
		}
	}
	subset := rt.PickSubset(rand.Uint64())
	route := rt.Config()
	if obs != nil {
		obs.Subset = subset
	}
	c := &call{
		r: r, d: d, rt: rt, req: req, ctx: ctx, cancel: cancel, obs: obs,
		picker:          d.pickerFor(subset),
		policy:          d.state.retry,
		routeIdempotent: route.Idempotent,
		retryable:       retry.Idempotent(req.Method, req.Header, route.Idempotent),
	}
	if retry.NoRetry(req.Context()) {
		c.policy.Attempts = 1
	}
	if d.cfg.LoadBalancer == ringhash.Name {
		c.info.Hash, c.info.HasHash = hashKey(req, d.cfg.HashKey)
	}
	hedge := route.Hedge
	hedging := hedge != nil && hedge.Enabled() && c.retryable && c.policy.Attempts > 1
	mirror := rt.MirrorSubset(rand.Float64)

	// Each try sends its own shallow copy of out with the endpoint's
	// address in a copy of the URL.
	c.out = req.WithContext(ctx)
	if c.out.Host == "" {
		c.out.Host = req.URL.Host
	}
	c.out.Header = req.Header.Clone()
	if c.out.Header == nil {
		c.out.Header = make(http.Header)
	}
	if r.source != "" {
		c.out.Header.Set(SourceHeader, r.source)
	}
	if deadline, ok := ctx.Deadline(); ok {
		c.out.Header.Set(retry.TimeoutHeader, retry.EncodeTimeout(time.Until(deadline)))
	}
	if c.policy.Attempts > 1 || retry.NoRetry(req.Context()) {
		// Downstream Weft servers see that this call is retried here, so
		// their own clients do not retry too.
		c.out.Header.Set(retry.OwnerHeader, "1")
	}
	var err error
	// A body is buffered only when it may be sent again after it was read:
	// a retry of a retryable request, a hedge, a mirror copy. A connection
	// failure happens before any of it is read, so a streamed body serves
	// that retry.
	replay := c.policy.Attempts > 1 && c.retryable || hedging || mirror != ""
	if c.body, err = newReplayBody(req, replay); err != nil {
		cancel()
		err = fmt.Errorf("transport: %s: reading the request body: %w", d.service, err)
		obs.fail(err)
		return nil, err
	}
	hedging = hedging && c.body.replayable()
	if mirror != "" && c.body.replayable() {
		r.mirror(d, mirror, c)
	}
	d.state.budget.Deposit()
	if hedging {
		return c.hedged(*hedge)
	}
	return c.retried()
}

// retried sends the call's tries one after another.
func (c *call) retried() (*http.Response, error) {
	var avoid *resilience.Endpoint
	for n := 1; ; n++ {
		res := c.try(c.ctx, c.out, avoid)
		if !c.worthRetrying(n, res) {
			return c.finish(res)
		}
		wait, ok := c.policy.Backoff.Pause(n, retryAfter(res.resp), time.Now(), nil)
		if !ok || !c.timeLeft(wait) || !c.body.rewind() || !c.withdraw() {
			return c.finish(res)
		}
		res.discard()
		if err := sleep(c.ctx, wait); err != nil {
			c.body.abandon()
			c.cancel()
			err = fmt.Errorf("transport: %s: waiting to retry: %w", c.d.service, err)
			c.obs.fail(err)
			return nil, err
		}
		avoid = res.ep
	}
}

// worthRetrying reports whether a try's failure may be retried: tries
// remain and the retry policy accepts the failure for this request. The
// caller still needs time, a replayable body and the budget's consent.
func (c *call) worthRetrying(n int, res *tryResult) bool {
	return res.failed() && n < c.policy.Attempts &&
		retry.Retryable(c.policy, c.req.Method, c.req.Header, c.routeIdempotent, res.outcome)
}

// timeLeft reports whether a retry after wait still has time to run.
func (c *call) timeLeft(wait time.Duration) bool {
	deadline, ok := c.ctx.Deadline()
	return !ok || time.Until(deadline) > wait
}

// finish hands the final try's result to the caller.
func (c *call) finish(res *tryResult) (*http.Response, error) {
	if res.err != nil {
		c.body.abandon()
		c.cancel()
		c.obs.fail(res.err)
		return nil, res.err
	}
	c.body.release()
	if c.obs != nil {
		c.obs.Status, c.obs.Endpoint, c.obs.TLS = res.resp.StatusCode, res.ep.Addr, res.resp.TLS
	}
	body := &endOnClose{ReadCloser: res.resp.Body, ep: res.ep, cancelTry: res.cancel, cancelCall: c.cancel, obs: c.obs}
	res.resp.Body = body
	if w, ok := body.ReadCloser.(io.Writer); ok && res.resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket and the like) is written to
		// through the body, as net/http documents.
		res.resp.Body = &upgradedBody{endOnClose: body, w: w}
	}
	return res.resp, nil
}

// tryResult is the outcome of one try.
type tryResult struct {
	resp    *http.Response
	err     error
	ep      *resilience.Endpoint // nil when no endpoint was picked
	outcome retry.Outcome
	cancel  context.CancelFunc // ends the try's own context
	ended   bool               // ep.End was called

	// observed is what the observer is told of the try; nil without one.
	observed *observedTry
}

func (t *tryResult) failed() bool {
	return t.outcome.Failure != retry.NoFailure || t.outcome.Status >= 500 || t.outcome.Status == http.StatusTooManyRequests
}

// discard throws away a failed try's response.
func (t *tryResult) discard() {
	if t.resp != nil {
		io.Copy(io.Discard, io.LimitReader(t.resp.Body, 4<<10))
		t.resp.Body.Close()
	}
	if t.ep != nil && !t.ended {
		t.ep.End()
		t.ended = true
	}
	t.cancel()
}

// try sends one try to an endpoint other than avoid when possible.
func (c *call) try(ctx context.Context, out *http.Request, avoid *resilience.Endpoint) *tryResult {
	ep, done, err := c.pick(avoid)
	if err != nil {
		return noEndpoint(err)
	}
	return c.sendTo(ctx, out, ep, done, c.nextAttempt(false))
}

// noCancel stands for the cancel function of a context that was not made.
var noCancel context.CancelFunc = func() {}

// noEndpoint is the result of a try that found no endpoint to send to:
// final, whatever the retry policy says.
func noEndpoint(err error) *tryResult {
	return &tryResult{err: err, cancel: noCancel, ended: true}
}

// sendTo sends one try to ep; done, if not nil, reports its outcome to
// ep's breaker.
func (c *call) sendTo(ctx context.Context, out *http.Request, ep *resilience.Endpoint, done func(bool), n attemptNumber) *tryResult {
	tctx, tcancel := ctx, noCancel
	if c.policy.PerTryTimeout > 0 {
		tctx, tcancel = context.WithTimeout(ctx, c.policy.PerTryTimeout)
	}
	res := &tryResult{ep: ep, cancel: tcancel}
	actx := c.startAttempt(tctx, res, out, n)
	o := out.WithContext(actx)
	if res.observed != nil && res.observed.header.own != nil {
		o.Header = res.observed.header.own
	}
	u := *out.URL
	u.Host = ep.Addr
	u.Scheme = c.d.conns.scheme
	o.URL = &u
	if c.body != nil {
		o.Body = c.body.forTry()
	}
	ep.Begin()
	start := time.Now()
	resp, err := c.d.conns.roundTrip(c.r, o)
	res.resp = resp
	abandoned := false // the call or a winning hedge ended the try: no verdict on ep
	switch {
	case err == nil:
		res.outcome.Status = resp.StatusCode
		if resp.StatusCode < 500 {
			ep.MarkUp()
		}
	case isConnectError(err):
		res.outcome.Failure = retry.ConnectFailure
		ep.MarkDown(time.Now().Add(markDownFor))
		if errors.Is(err, security.ErrWrongPeer) {
			c.r.logger.Warn("weft: endpoint refused: it does not prove the identity of the service; its catalog entry is stale or forged", "service", c.d.service, "addr", ep.Addr, "err", err)
		}
	case ctx.Err() != nil:
		res.outcome.Failure = retry.Reset
		abandoned = true
	case tctx.Err() != nil:
		res.outcome.Failure = retry.Timeout
	default:
		res.outcome.Failure = retry.Reset
	}
	// Breakers and ejection judge the endpoint: a 429 is the server
	// pacing this caller, not a failing endpoint.
	healthy := res.outcome.Failure == retry.NoFailure && res.outcome.Status < 500
	if done != nil {
		c.breakerDone(res, done, healthy || abandoned)
	}
	if !abandoned {
		ep.Observe(time.Since(start), !healthy)
		if o := c.d.state.outliers; o != nil {
			c.outlierObserve(res, o)
		}
	}
	if err != nil {
		ep.End()
		res.ended = true
		res.err = fmt.Errorf("transport: %s via %s: %w", c.d.service, ep.Addr, err)
	}
	c.endAttempt(actx, res, err, abandoned)
	return res
}

// pick chooses an endpoint whose breaker lets the request through. An
// endpoint whose breaker refuses is avoided and another picked; when every
// breaker holds requests back, the call fails fast.
func (c *call) pick(avoid *resilience.Endpoint) (*resilience.Endpoint, func(bool), error) {
	for range 3 {
		info := c.info
		info.Avoid = avoid
		ep, err := pick(c.d, c.picker, info)
		if err != nil {
			return nil, nil, err
		}
		b := c.d.state.breakers
		if b == nil {
			return ep, nil, nil
		}
		done, err := b.Allow(ep.Addr)
		if err == nil {
			return ep, done, nil
		}
		if all := b.CheckAll(c.d.addrs); all != nil {
			return nil, nil, fmt.Errorf("transport: %s: %w", c.d.service, all)
		}
		avoid = ep
	}
	return nil, nil, fmt.Errorf("transport: %s: %w", c.d.service, breaker.ErrOpen)
}

func outlierOutcome(o retry.Outcome) outlier.Outcome {
	if o.Failure != retry.NoFailure {
		return outlier.ConnectFailure
	}
	return outlier.FromStatus(o.Status)
}

func retryAfter(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get("Retry-After")
}

// hashKey hashes the request's header or cookie that key names.
func hashKey(req *http.Request, key resilience.HashKey) (uint64, bool) {
	var v string
	switch {
	case key.Header != "":
		v = req.Header.Get(key.Header)
	case key.Cookie != "":
		if c, err := req.Cookie(key.Cookie); err == nil {
			v = c.Value
		}
	}
	if v == "" {
		return 0, false
	}
	return ringhash.Key(v), true
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// faultResponse is the answer to a request aborted by fault injection.
func faultResponse(req *http.Request, status int) *http.Response {
	body := "fault injected by the Weft policy\n"
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Weft-Fault": {"abort"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
