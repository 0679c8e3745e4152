package rpc

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
)

// asMessage returns reply as a protobuf message, which hedging needs to
// give each attempt a reply of its own.
func asMessage(reply any) (proto.Message, bool) {
	m, ok := reply.(proto.Message)
	return m, ok
}

// hedged sends the call's first attempt and, each time h.Delay passes
// without an answer, another to a different endpoint, up to h.Extra()
// more, each withdrawn from the retry budget; a failed attempt is retried
// at once while the retry policy and the budget allow. The first attempt
// that succeeds wins: its reply is copied into reply and the others are
// cancelled. When every attempt fails, the last error is returned. Each
// attempt decodes into a reply of its own, so that concurrent attempts
// never write the caller's.
func (c *call) hedged(ctx context.Context, h retry.HedgeConfig, req any, reply proto.Message, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	type done struct {
		i        int
		a        *attempt
		reply    proto.Message
		err      error
		timedOut bool
		actx     context.Context // the attempt's, for its observer
		observed *observedAttempt
	}
	results := make(chan done, 1+h.Extra()+c.policy.Attempts)
	var (
		cancels  []context.CancelFunc
		attempts []*attempt
		avoid    *resilience.Endpoint
		pending  int
		hedges   int // attempts started by the timer
		retries  int // attempts started after a failure
	)
	start := func(hedge bool) {
		a := c.newAttempt(ctx.Done(), avoid)
		actx, cancel := tryContext(context.WithValue(ctx, attemptKey{}, a), c.policy.PerTryTimeout)
		actx, observed, aopts := c.startAttempt(actx, hedge, opts)
		i := len(cancels)
		cancels = append(cancels, cancel)
		attempts = append(attempts, a)
		pending++
		r := reply.ProtoReflect().New().Interface()
		go func() {
			err := invoker(actx, c.method, req, r, cc, aopts...)
			if err == io.EOF {
				err = errEndedEarly
				a.abandon(err)
			}
			timedOut := err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
			results <- done{i, a, r, err, timedOut, actx, observed}
		}()
	}
	// latest returns the endpoint the newest attempt went to, for the next
	// one to avoid.
	latest := func() *resilience.Endpoint {
		ep, _, _ := attempts[len(attempts)-1].outcome()
		return ep
	}
	start(false)
	timer := time.NewTimer(h.Delay)
	defer timer.Stop()
	var lastErr error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			c.endAttempt(r.actx, r.observed, r.a, r.err, r.timedOut || ctx.Err() == context.DeadlineExceeded, ctx.Err() == context.Canceled)
			cancels[r.i]()
			if r.err == nil {
				for _, cancel := range cancels {
					cancel()
				}
				// Cancelled attempts return at once; wait for them so that
				// nothing outlives the call.
				for ; pending > 0; pending-- {
					l := <-results
					c.endAttempt(l.actx, l.observed, l.a, l.err, false, l.err != nil)
				}
				proto.Reset(reply)
				proto.Merge(reply, r.reply)
				return nil
			}
			lastErr = r.err
			ep, o, _, ok := c.judge(ctx, r.a, r.err, r.timedOut)
			if ok && retries+1 < c.policy.Attempts && c.worthRetrying(ctx, 1, o) && c.withdraw() {
				avoid = ep
				start(false)
				retries++
			}
		case <-timer.C:
			if hedges < h.Extra() && c.withdraw() {
				avoid = latest()
				start(true)
				hedges++
				timer.Reset(h.Delay)
			}
		}
	}
	return lastErr
}

// tryContext returns the context of one attempt: bounded by perTry when
// it is set, cancellable in any case.
func tryContext(ctx context.Context, perTry time.Duration) (context.Context, context.CancelFunc) {
	if perTry > 0 {
		return context.WithTimeout(ctx, perTry)
	}
	return context.WithCancel(ctx)
}
