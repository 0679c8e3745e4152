package rpc

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// call is one RPC through a channel's interceptors, across its attempts.
type call struct {
	dest    *destination
	method  string
	route   *route.CompiledRoute // nil when no route matched
	subset  string
	policy  retry.Config
	timeout time.Duration
	info    resilience.PickInfo
	stream  bool
	// idempotent is the matched route's flag; the call's Idempotency-Key
	// is read from its metadata when a retry is considered.
	idempotent bool
	mirrored   bool // a mirrored copy, sent once and not observed

	// Set when the call is observed: what its observer is told.
	obs transport.CallObserver
	rec *transport.CallInfo
}

// newCall matches the call's route and returns the context its attempts
// start from: the caller's, with the metadata Weft sends.
func (ch *channel) newCall(ctx context.Context, method string, stream bool) (*call, context.Context) {
	dst := ch.svc.dest.Load()
	c := &call{dest: dst, method: method, policy: dst.retry, timeout: dst.cfg.Timeout, stream: stream}
	var md metadata.MD
	if dst.routes.Len() > 0 || dst.cfg.LoadBalancer == ringhash.Name {
		md, _ = metadata.FromOutgoingContext(ctx)
	}
	mirrorOf, mirrored := ctx.Value(mirrorKey{}).(string)
	if dst.routes.Len() > 0 && !mirrored {
		// The context carries the end-user claims routes may match.
		c.route = dst.routes.Match(Request(method, md).WithContext(ctx))
		c.subset = c.route.PickSubset(rand.Uint64())
		c.idempotent = c.route.Config().Idempotent
		if t := c.route.Timeout(); t > 0 {
			c.timeout = t
		}
	}
	if dst.cfg.LoadBalancer == ringhash.Name {
		c.info.Hash, c.info.HasHash = hashKey(md, dst.cfg.HashKey)
	}
	if mirrored {
		c.subset, c.mirrored = mirrorOf, true
	}
	noRetry := retry.NoRetry(ctx) || mirrored
	if noRetry {
		c.policy.Attempts = 1
	}
	var buf [4]string // on the stack: the metadata functions copy it
	kv := buf[:0]
	if src := ch.d.cfg.Service; src != "" {
		kv = append(kv, sourceKey, src)
	}
	if c.policy.Attempts > 1 || noRetry {
		// Downstream Weft servers see that this call is retried here, so
		// their own clients do not retry too.
		owner := ch.d.cfg.Service
		if owner == "" {
			owner = "1"
		}
		kv = append(kv, ownerKey, owner)
	}
	if len(kv) > 0 {
		ctx = setOutgoing(ctx, kv)
	}
	return c, ctx
}

// setOutgoing sets the keys of kv in ctx's outgoing metadata, replacing
// values a caller may have copied from an incoming call.
func setOutgoing(ctx context.Context, kv []string) context.Context {
	for i := 0; i < len(kv); i += 2 {
		if metadata.ValueFromOutgoingContext(ctx, kv[i]) != nil {
			md, _ := metadata.FromOutgoingContext(ctx)
			for j := 0; j < len(kv); j += 2 {
				md.Set(kv[j], kv[j+1])
			}
			return metadata.NewOutgoingContext(ctx, md)
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// fault applies the matched route's injected faults: a delay, within ctx,
// and an abort, returned as the status its HTTP code stands for.
func (c *call) fault(ctx context.Context) error {
	delay, abort := c.route.Fault(rand.Float64)
	if delay > 0 {
		if err := sleep(ctx, delay); err != nil {
			return status.Errorf(status.FromContextError(err).Code(), "weft: %s: during an injected delay: %v", c.dest.service, err)
		}
	}
	if abort != 0 {
		return status.Errorf(Code(abort), "weft: %s: fault injected by the Weft policy (abort %d)", c.dest.service, abort)
	}
	return nil
}

func (c *call) newAttempt(callDone <-chan struct{}, avoid *resilience.Endpoint) *attempt {
	a := &attempt{subset: c.subset, info: c.info, stream: c.stream, callDone: callDone}
	a.info.Avoid = avoid
	return a
}

// judge says how an attempt that returned err ended, and whether a retry
// may follow: never when the call is over or no endpoint was picked (the
// picker's answer is final, as on the HTTP path).
func (c *call) judge(ctx context.Context, a *attempt, err error, timedOut bool) (ep *resilience.Endpoint, o retry.Outcome, retryAfter string, ok bool) {
	ep, r, trailer := a.outcome()
	if ctx.Err() != nil || ep == nil {
		return ep, o, "", false
	}
	if r.err == nil {
		// The attempt's stream was never used (gRPC picked again and that
		// failed): what the caller got is the error.
		r.err = err
	}
	return ep, r.outcome(timedOut), first(trailer, retryAfterKey), true
}

// worthRetrying reports whether an attempt that ended with o may be
// retried: tries remain, and the retry policy accepts the failure for this
// call (a call the server may have processed only when idempotent).
func (c *call) worthRetrying(ctx context.Context, n int, o retry.Outcome) bool {
	if !failed(o) || n >= c.policy.Attempts {
		return false
	}
	var hdr http.Header
	if !o.Unprocessed() && !c.idempotent {
		if v := metadata.ValueFromOutgoingContext(ctx, idempotencyKey); len(v) > 0 && v[0] != "" {
			hdr = http.Header{retry.IdempotencyKeyHeader: v}
		}
	}
	return retry.Retryable(c.policy, http.MethodPost, hdr, c.idempotent, o)
}

// mayRepeat reports whether the call may be sent more than once although
// an earlier copy may have been processed, which hedging requires.
func (c *call) mayRepeat(ctx context.Context) bool {
	if c.idempotent {
		return true
	}
	v := metadata.ValueFromOutgoingContext(ctx, idempotencyKey)
	return len(v) > 0 && v[0] != ""
}

// unary is the channel's unary interceptor.
func (ch *channel) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c, ctx := ch.newCall(ctx, method, false)
	ctx = c.startCall(ctx, ch.d.observer(), ch.d.cfg.Service)
	err := c.invoke(ctx, ch, req, reply, cc, invoker, opts)
	c.endCall(ctx, err)
	return err
}

// invoke runs a unary call: its faults, mirror, hedges or retries.
func (c *call) invoke(ctx context.Context, ch *channel, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	method := c.method
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.fault(ctx); err != nil {
		return err
	}
	if sub := c.route.MirrorSubset(rand.Float64); sub != "" {
		if m, ok := asMessage(reply); ok {
			c.mirror(ctx, ch.d, sub, req, m, cc)
		}
	}
	c.dest.budget.Deposit()
	if h := c.route.Config().Hedge; h != nil && h.Enabled() && c.policy.Attempts > 1 && c.mayRepeat(ctx) {
		if m, ok := asMessage(reply); ok {
			return c.hedged(ctx, *h, req, m, cc, invoker, opts)
		}
	}
	var avoid *resilience.Endpoint
	for n := 1; ; n++ {
		a := c.newAttempt(ctx.Done(), avoid)
		actx := context.WithValue(ctx, attemptKey{}, a)
		var tcancel context.CancelFunc
		if c.policy.PerTryTimeout > 0 {
			actx, tcancel = context.WithTimeout(actx, c.policy.PerTryTimeout)
		}
		actx, observed, aopts := c.startAttempt(actx, false, opts)
		err := invoker(actx, method, req, reply, cc, aopts...)
		if err == io.EOF {
			err = errEndedEarly
			a.abandon(err)
		}
		timedOut := tcancel != nil && actx.Err() != nil && ctx.Err() == nil
		c.endAttempt(actx, observed, a, err, timedOut || ctx.Err() == context.DeadlineExceeded, ctx.Err() == context.Canceled)
		if tcancel != nil {
			tcancel()
		}
		if err == nil {
			return nil
		}
		ep, o, retryAfter, ok := c.judge(ctx, a, err, timedOut)
		if !ok || !c.worthRetrying(ctx, n, o) {
			return err
		}
		wait, ok := c.policy.Backoff.Pause(n, retryAfter, time.Now(), nil)
		if !ok || !timeLeft(ctx, wait) || !c.withdraw() {
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return status.FromContextError(err).Err()
		}
		avoid = ep
	}
}

// stream is the channel's stream interceptor. The timeout bounds opening
// the stream: picking an endpoint, connecting and retries; the stream
// then lives as long as the caller's context. A stream is retried only
// while it is being opened, before any message was sent on it.
func (ch *channel) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c, ctx := ch.newCall(ctx, method, true)
	ctx = c.startCall(ctx, ch.d.observer(), ch.d.cfg.Service)
	open, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.fault(open); err != nil {
		c.endCall(ctx, err)
		return nil, err
	}
	c.dest.budget.Deposit()
	opts = opts[:len(opts):len(opts)]
	var avoid *resilience.Endpoint
	for n := 1; ; n++ {
		a := c.newAttempt(ctx.Done(), avoid)
		sctx, scancel := context.WithCancel(context.WithValue(ctx, attemptKey{}, a))
		sctx, observed, aopts := c.startAttempt(sctx, false, opts)
		var end *streamEnd
		if c.obs != nil {
			// An observed call ends when the stream the caller gets ends.
			end = &streamEnd{}
			aopts = append(aopts, grpc.OnFinish(func(err error) {
				scancel()
				if end.finish(err) {
					c.endCall(ctx, err)
				}
			}))
		} else {
			aopts = append(aopts, grpc.OnFinish(func(error) { scancel() }))
		}
		stop := context.AfterFunc(open, scancel)
		cs, err := streamer(sctx, desc, cc, method, aopts...)
		if !stop() && ctx.Err() == nil {
			// The timeout ran out while the stream was being opened.
			scancel()
			err = status.Errorf(codes.DeadlineExceeded, "weft: %s: opening a stream: no answer within the timeout of %v", c.dest.service, c.timeout)
			c.endStream(ctx, sctx, observed, end, a, err, true)
			return nil, err
		}
		if err == nil {
			if end != nil {
				c.endAttempt(sctx, observed, a, nil, false, false)
				if finished, ferr := end.opened(); finished {
					c.endCall(ctx, ferr)
				}
			}
			return cs, nil
		}
		c.endAttempt(sctx, observed, a, err, false, ctx.Err() == context.Canceled)
		if end != nil {
			end.refuse()
		}
		ep, o, retryAfter, ok := c.judge(ctx, a, err, false)
		if !ok || !c.worthRetrying(ctx, n, o) {
			c.endCall(ctx, err)
			return nil, err
		}
		wait, ok := c.policy.Backoff.Pause(n, retryAfter, time.Now(), nil)
		if !ok || !timeLeft(open, wait) || !c.withdraw() {
			c.endCall(ctx, err)
			return nil, err
		}
		if err := sleep(open, wait); err != nil {
			err = status.FromContextError(err).Err()
			c.endCall(ctx, err)
			return nil, err
		}
		avoid = ep
	}
}

// endStream ends an observed stream call whose attempt failed with err.
func (c *call) endStream(ctx, actx context.Context, observed *observedAttempt, end *streamEnd, a *attempt, err error, timedOut bool) {
	if end == nil {
		return
	}
	end.refuse()
	c.endAttempt(actx, observed, a, err, timedOut, false)
	c.endCall(ctx, err)
}

// withdraw takes a retry or hedge from the destination's budget, noting
// for the observer when the budget refuses.
func (c *call) withdraw() bool {
	if c.dest.budget.TryWithdraw() {
		return true
	}
	if c.obs != nil {
		c.rec.BudgetExhausted = true
	}
	return false
}

// errEndedEarly replaces the bare io.EOF grpc-go returns for a unary call
// whose stream ended before its response: the server may have processed
// the call, so it is not retried unless idempotent.
var errEndedEarly = status.Error(codes.Unavailable, "weft: the call's stream ended before its response")

// timeLeft reports whether a retry after wait still has time to run.
func timeLeft(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > wait
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
