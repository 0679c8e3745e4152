package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/route"
)

// ErrNoEndpoint is wrapped, with the service's name and the reason, by
// the error of a call whose destination has no endpoint able to take it.
var ErrNoEndpoint = errors.New("no endpoint available")

// SourceHeader names the calling service on requests sent by a Weft
// client (gRPC: the metadata key in lower case). A server that verified
// the caller's identity replaces it with the service that identity names.
const SourceHeader = "Weft-Source"

// Request describes a call for [Destination.Begin]: what the engine needs
// to know of it, whatever the protocol.
type Request struct {
	// Protocol is the call's protocol.
	Protocol Protocol
	// Method and Header decide whether the call may be sent again after
	// an attempt the server may have processed ([retry.Idempotent]): the
	// HTTP method and headers, or POST and, for a gRPC call, a header
	// holding its idempotency-key metadata. Header may be nil.
	Method string
	Header http.Header
	// Name and Path are what observers see: the HTTP method and path, or
	// the gRPC full method name and "".
	Name, Path string
	// Route is the route that matched (Destination.Routes().Match), nil
	// when none did.
	Route *route.CompiledRoute
	// Hash is the call's key for a hashing balancer, used when HasHash is
	// set.
	Hash    uint64
	HasHash bool
	// NoRetry limits the call to one attempt: a caller further up owns
	// the retries ([retry.NoRetry]).
	NoRetry bool
	// Mirror marks a mirrored copy: sent once to the subset named, never
	// retried, hedged or observed, with no route split or fault.
	Mirror string
}

// Call is one call to a destination across all its attempts. A Call is
// used by one goroutine, the caller's, except for the methods documented
// otherwise. It holds its first attempt, so that a call that needs one
// costs no allocation of the engine's own; a protocol adapter keeps it in
// the value that holds the rest of its call's state ([Destination.BeginCall]).
// A Call must not be copied once begun.
type Call struct {
	d               *Destination
	method          string               // the request's, for the retry policy
	header          http.Header          // the request's, for the retry policy; may be nil
	route           *route.CompiledRoute // nil when none matched
	subset          string
	policy          retry.Config
	timeout         time.Duration
	info            resilience.PickInfo
	repeatable      bool // may be sent again although processed
	routeIdempotent bool
	deposited       atomic.Bool // the call reached an endpoint and paid into the budget
	tries           int         // attempts started

	// began is when the call began, read once from the real clock: the
	// base of its deadline and, when the engine reads the real clock, the
	// time its first pick is made and the budget is paid.
	began    time.Time
	deadline time.Time // set by WithDeadline: the call's own, or the caller's when earlier
	delayed  bool      // an injected delay passed since start
	dl       deadlineContext

	obs    observe.CallObserver // nil when not observed
	rec    *observe.CallInfo    // in observed, when observed
	obsCtx context.Context      // what StartCall returned, for EndCall
	seen   *observed

	first Try // the call's first attempt
}

// Begin starts a call to d: it applies the matched route's timeout and
// subset split and, when the engine has an observer, reports the call's
// start. It returns the call and the context its attempts start from.
func (d *Destination) Begin(ctx context.Context, r Request) (*Call, context.Context) {
	c := new(Call)
	return c, d.BeginCall(c, ctx, r)
}

// BeginCall is [Destination.Begin] for a Call the protocol adapter
// allocates within its own per-call state, so that the call and the
// adapter's state are one allocation. c must be the zero Call, and is not
// to be copied afterwards.
func (d *Destination) BeginCall(c *Call, ctx context.Context, r Request) context.Context {
	*c = Call{d: d, method: r.Method, header: r.Header, route: r.Route, policy: *d.cfg.Retries, timeout: d.cfg.Timeout, began: time.Now()}
	c.info.Hash, c.info.HasHash = r.Hash, r.HasHash && d.hashing
	if r.Mirror != "" {
		c.route, c.subset = nil, r.Mirror
	} else if c.route != nil {
		c.subset = c.route.PickSubset(rand.Uint64())
		c.routeIdempotent = c.route.Config().Idempotent
		if t := c.route.Timeout(); t > 0 {
			c.timeout = t
		}
	}
	c.repeatable = retry.Idempotent(r.Method, r.Header, c.routeIdempotent)
	if r.NoRetry || r.Mirror != "" {
		c.policy.Attempts = 1
	}
	if r.Mirror == "" {
		if obs := d.engine.Observer(); obs != nil {
			c.obs = obs
			c.seen = &observed{rec: observe.CallInfo{
				Protocol: r.Protocol.String(), Source: d.engine.cfg.Source, Destination: d.Service,
				Method: r.Name, Path: r.Path, Route: c.route.Name(), Subset: c.subset,
				Balancer: d.cfg.LoadBalancer, Start: c.began,
			}}
			c.rec = &c.seen.rec
			ctx = obs.StartCall(ctx, c.rec)
			c.obsCtx = ctx
		}
	}
	return ctx
}

// observed is what an observed call tells its observer: the call's
// record and its first attempt's, in one allocation that unobserved calls
// do without.
type observed struct {
	rec   observe.CallInfo
	first observe.AttemptInfo
}

// Destination returns the snapshot the call runs on.
func (c *Call) Destination() *Destination { return c.d }

// Timeout returns the call's timeout: the matched route's, else the
// destination's.
func (c *Call) Timeout() time.Duration { return c.timeout }

// Attempts returns the most attempts the call may make.
func (c *Call) Attempts() int { return c.policy.Attempts }

// Subset returns the subset the route's split chose, "" for every
// endpoint.
func (c *Call) Subset() string { return c.subset }

// Repeatable reports whether the call may be sent more than once although
// an earlier copy may have been processed: an idempotent method or route,
// or an idempotency key.
func (c *Call) Repeatable() bool { return c.repeatable }

// Retries reports whether the call may be sent more than once at all.
func (c *Call) Retries() bool { return c.policy.Attempts > 1 }

// Hedged reports whether the call's route hedges it, given that the
// protocol can send the call's attempts concurrently.
func (c *Call) Hedged() bool {
	if c.route == nil {
		return false
	}
	h := c.route.Config().Hedge
	return h != nil && h.Enabled() && c.repeatable && c.policy.Attempts > 1
}

// WithDeadline returns ctx bounded by the call's timeout from its start.
// When ctx's own deadline comes first, it is returned as it is: a new
// context would add nothing. The context it makes lives in the call
// (costing no allocation of its own) until [Call.EndDeadline].
func (c *Call) WithDeadline(ctx context.Context) context.Context {
	c.deadline = c.began.Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && !d.After(c.deadline) {
		c.deadline = d
		return ctx
	}
	c.dl.start(ctx, c.deadline, c.timeout)
	return &c.dl
}

// EndDeadline ends the context WithDeadline made, if any, as its cancel
// function would: once the caller is done with the call's answer. It may
// be called more than once, from any goroutine.
func (c *Call) EndDeadline() { c.dl.end() }

// Remaining returns the time the call has left, as a hop header carries
// it: its timeout, or less when the caller's deadline is earlier, as at
// the call's start, or now when an injected delay held it up since. It is
// valid after WithDeadline.
func (c *Call) Remaining() time.Duration {
	if c.delayed {
		return time.Until(c.deadline)
	}
	return c.deadline.Sub(c.began)
}

// OwnTimeout reports whether [Call.Remaining] is exactly the call's
// timeout: its deadline is its own rather than the caller's earlier one,
// and nothing held it up. It is valid after WithDeadline.
func (c *Call) OwnTimeout() bool { return !c.delayed && c.deadline.Sub(c.began) == c.timeout }

// Fault applies the matched route's injected faults: a delay, within ctx,
// then an abort, returned as the HTTP status it stands for (0 when none).
// An error means ctx ended during the delay.
func (c *Call) Fault(ctx context.Context) (abort int, err error) {
	delay, abort := c.route.Fault(rand.Float64)
	if delay > 0 {
		c.delayed = true
		if err := sleep(ctx, delay); err != nil {
			return 0, fmt.Errorf("weft: %s: during an injected delay: %w", c.d.Service, err)
		}
	}
	return abort, nil
}

// MirrorSubset returns the subset a copy of the call goes to, or "" when
// the route mirrors nothing this time.
func (c *Call) MirrorSubset() string { return c.route.MirrorSubset(rand.Float64) }

// StartMirror registers a mirrored copy of the call, bounded by timeout
// and detached from ctx's cancellation, and returns its context and the
// function to call when it ends. ok is false when the engine is closed or
// too many copies are in flight: the copy is dropped.
func (c *Call) StartMirror(ctx context.Context, timeout time.Duration) (mctx context.Context, done func(), ok bool) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	done, ok = c.d.engine.mirrors.Add(cancel)
	if !ok {
		cancel()
		c.d.engine.logger.Debug("weft: mirror dropped", "service", c.d.Service)
	}
	return mctx, done, ok
}

// Observed reports whether the call is reported to an observer.
func (c *Call) Observed() bool { return c.obs != nil }

// End tells the observer, if any, that the call is over: it got status
// (an HTTP status or gRPC code; 0 when none) or failed with err. It is
// called once, when the caller is done with the answer.
func (c *Call) End(status int, err error) {
	if c.obs == nil {
		return
	}
	c.rec.Status, c.rec.Err, c.rec.End = status, err, time.Now()
	c.obs.EndCall(c.obsCtx, c.rec)
}

// SetAnswer records, for the observer, the endpoint and connection that
// gave a call's final answer when no attempt did (an injected fault).
func (c *Call) SetAnswer(endpoint string, state *tls.ConnectionState) {
	if c.obs != nil {
		c.rec.Endpoint, c.rec.TLS = endpoint, state
	}
}

// withdraw takes a retry or hedge from the destination's budget, noting
// for the observer when the budget refuses.
func (c *Call) withdraw() bool {
	if c.d.st.budget.TryWithdraw() {
		return true
	}
	if c.obs != nil {
		c.rec.BudgetExhausted = true
	}
	return false
}

// deposit pays the call into the retry budget, once, when it first
// reaches an endpoint: a call that finds none must not earn retries for
// the calls that do. now is the time of the pick. It may run on any
// attempt's goroutine.
func (c *Call) deposit(now time.Time) {
	if !c.deposited.Load() && c.deposited.CompareAndSwap(false, true) {
		c.d.st.budget.DepositAt(now)
	}
}

// pickTime returns the time of attempt n's pick, read from the engine's
// clock. The first attempt of a call that nothing held up is picked at the
// call's start, when that came from the same clock: one clock read fewer
// on every call.
func (c *Call) pickTime(n int) time.Time {
	if n == 1 && c.d.st.realClock && !c.delayed {
		return c.began
	}
	return c.d.st.now()
}

// noCancel stands for the cancel function of a context that was not made.
var noCancel context.CancelFunc = func() {}

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
