package rpc

import (
	"context"
	"errors"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience/retry"
)

// begin starts c, a call to the channel's service, through the engine:
// the route matched on the full method name and the outgoing metadata,
// the hash key, whether the call may be repeated. It returns the context
// the call's attempts start from, with the metadata Weft sends. c lives
// in the interceptor's own state for the call: one allocation for both.
func (ch *channel) begin(c *engine.Call, ctx context.Context, method string) context.Context {
	d := ch.d.engine.Destination(ch.service)
	if d == nil {
		ch.d.engine.Want(ch.service)
		d = ch.d.engine.Destination(ch.service)
	}
	r := engine.Request{Protocol: engine.GRPC, Method: http.MethodPost, Name: method, NoRetry: retry.NoRetry(ctx)}
	mirror, mirrored := ctx.Value(mirrorKey{}).(string)
	if mirrored {
		r.Mirror = mirror
	}
	var md metadata.MD
	if d.Routes().Len() > 0 || d.Hashing() {
		md, _ = metadata.FromOutgoingContext(ctx)
	}
	if d.Routes().Len() > 0 && !mirrored {
		r.Route = d.Routes().Match(Request(method, md).WithContext(ctx))
	}
	if d.Hashing() {
		r.Hash, r.HasHash = hashKey(md, d.Config().HashKey)
	}
	if v := metadata.ValueFromOutgoingContext(ctx, idempotencyKey); len(v) > 0 && v[0] != "" {
		r.Header = http.Header{retry.IdempotencyKeyHeader: v}
	}
	ctx = d.BeginCall(c, ctx, r)
	var buf [4]string // on the stack: the metadata functions copy it
	kv := buf[:0]
	src := ch.d.engine.Source()
	if src != "" {
		kv = append(kv, sourceKey, src)
	}
	if c.Retries() || r.NoRetry || mirrored {
		// Downstream Weft servers see that this call is retried here, so
		// their own clients do not retry too.
		owner := src
		if owner == "" {
			owner = "1"
		}
		kv = append(kv, ownerKey, owner)
	}
	if len(kv) > 0 {
		ctx = setOutgoing(ctx, kv)
	}
	return ctx
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

// fault applies the call's injected faults: a delay, within ctx, and an
// abort, returned as the status its HTTP code stands for.
func fault(ctx context.Context, c *engine.Call) error {
	abort, err := c.Fault(ctx)
	if err != nil {
		return status.Error(status.FromContextError(err).Code(), err.Error())
	}
	if abort != 0 {
		return status.Errorf(Code(abort), "weft: %s: fault injected by the Weft policy (abort %d)", c.Destination().Service, abort)
	}
	return nil
}

// unary is the channel's unary interceptor.
func (ch *channel) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	u := &unaryCall{method: method, req: req, reply: reply, cc: cc, invoker: invoker, opts: opts}
	ctx = ch.begin(&u.call, ctx, method)
	err := ch.invoke(ctx, u)
	u.call.End(int(status.Code(err)), err)
	return err
}

// invoke runs a unary call: its faults, mirror, and attempts.
func (ch *channel) invoke(ctx context.Context, u *unaryCall) error {
	c, method, req, reply, cc := &u.call, u.method, u.req, u.reply, u.cc
	ctx = c.WithDeadline(ctx)
	defer c.EndDeadline()
	if err := fault(ctx, c); err != nil {
		return err
	}
	m, isProto := reply.(proto.Message)
	if sub := c.MirrorSubset(); sub != "" && isProto {
		ch.mirror(ctx, c, method, sub, req, m, cc)
	}
	// Attempts side by side each need a reply of their own, which only a
	// protobuf reply can make.
	t, res := engine.Run(ctx, ctx, c, u, nil, isProto)
	if t == nil {
		return statusError(res.Err)
	}
	t.Release()
	if res.Err == nil && t.Concurrent() {
		proto.Reset(m)
		proto.Merge(m, res.Value.(proto.Message))
	}
	return res.Err
}

// statusError turns an error of the engine's (no endpoint, a wait cut
// short) into the gRPC status a caller expects.
func statusError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.Error(status.FromContextError(err).Code(), err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// unaryCall is the engine's [engine.Attempter] for a unary call, and
// holds the engine's call.
type unaryCall struct {
	call    engine.Call
	method  string
	req     any
	reply   any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	first   attempt // the first attempt, in the call's own allocation
}

// Attempt sends one attempt through gRPC, whose balancer picks the
// endpoint with the engine.
func (u *unaryCall) Attempt(ctx context.Context, t *engine.Try) engine.Result[any] {
	a := &u.first
	if t.N() > 1 {
		a = new(attempt)
	}
	a.try = t
	actx, observed, opts := startAttempt(context.WithValue(ctx, attemptKey{}, a), t, u.opts)
	reply := u.reply
	if t.Concurrent() {
		reply = u.reply.(proto.Message).ProtoReflect().New().Interface()
	}
	err := u.invoker(actx, u.method, u.req, reply, u.cc, opts...)
	if err == io.EOF {
		err = errEndedEarly
		a.abandon(err)
	}
	return judge(actx, t, a, observed, reply, err, t.TimedOut())
}

// Discard implements [engine.Attempter]: a unary reply needs no release.
func (u *unaryCall) Discard(*engine.Try, engine.Result[any]) {}

// Rewind implements [engine.Attempter]: a unary request can always be
// sent again.
func (u *unaryCall) Rewind() bool { return true }

// judge says how an attempt that returned err ended: its outcome for the
// retry policy, as its endpoint's done callback saw it (timedOut: the
// attempt ran out of its own time), and its end for the observer.
func judge(actx context.Context, t *engine.Try, a *attempt, observed *observedAttempt, value any, err error, timedOut bool) engine.Result[any] {
	r, trailer := a.outcome()
	if r.err == nil {
		// The attempt's stream was never used (gRPC picked again and that
		// failed): what the caller got is the error.
		r.err = err
	}
	res := engine.Result[any]{Value: value, Err: err, RetryAfter: first(trailer, retryAfterKey)}
	switch {
	case err == nil:
		res.Outcome.Status = http.StatusOK
	case t.Endpoint() == nil:
		res.Outcome.Failure = retry.ConnectFailure
	default:
		res.Outcome = r.outcome(timedOut)
	}
	endAttempt(actx, t, observed, res.Outcome, err, r.received)
	return res
}

// errEndedEarly replaces the bare io.EOF grpc-go returns for a unary call
// whose stream ended before its response: the server may have processed
// the call, so it is not retried unless idempotent.
var errEndedEarly = status.Error(codes.Unavailable, "weft: the call's stream ended before its response")

// stream is the channel's stream interceptor. The timeout bounds opening
// the stream: picking an endpoint, connecting and retries; the stream
// then lives as long as the caller's context. A stream is retried only
// while it is being opened, before any message was sent on it.
func (ch *channel) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s := &streamCall{desc: desc, cc: cc, method: method, streamer: streamer, opts: opts[:len(opts):len(opts)]}
	c := &s.call
	ctx = ch.begin(c, ctx, method)
	open := c.WithDeadline(ctx)
	defer c.EndDeadline()
	if err := fault(open, c); err != nil {
		c.End(int(status.Code(err)), err)
		return nil, err
	}
	s.open = open
	t, res := engine.Run(ctx, open, c, s, nil, false)
	if res.Err != nil {
		if t != nil {
			t.Release()
		}
		err := statusError(res.Err)
		c.End(int(status.Code(err)), err)
		return nil, err
	}
	opened := res.Value.(*openedStream)
	if opened.end != nil {
		if finished, ferr := opened.end.opened(); finished {
			c.End(int(status.Code(ferr)), ferr)
		}
	}
	return opened.cs, nil
}

// streamCall is the engine's [engine.Attempter] for opening a stream.
type streamCall struct {
	open     context.Context // bounded by the timeout
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	call     engine.Call
}

// openedStream is what an attempt that opened its stream returns.
type openedStream struct {
	cs  grpc.ClientStream
	end *streamEnd // nil when the call is not observed
}

// Attempt opens the stream on an endpoint the balancer picks with the
// engine. The stream's context lives until the stream finishes; its
// endpoint's verdict comes then.
func (s *streamCall) Attempt(ctx context.Context, t *engine.Try) engine.Result[any] {
	a := &attempt{try: t, stream: true}
	sctx, scancel := context.WithCancel(context.WithValue(ctx, attemptKey{}, a))
	sctx, observed, opts := startAttempt(sctx, t, s.opts)
	var end *streamEnd
	if s.call.Observed() {
		// An observed call ends when the stream the caller gets ends.
		end = &streamEnd{}
		c := &s.call
		opts = append(opts, grpc.OnFinish(func(err error) {
			scancel()
			if end.finish(err) {
				c.End(int(status.Code(err)), err)
			}
		}))
	} else {
		opts = append(opts, grpc.OnFinish(func(error) { scancel() }))
	}
	stop := context.AfterFunc(s.open, scancel)
	cs, err := s.streamer(sctx, s.desc, s.cc, s.method, opts...)
	if !stop() && ctx.Err() == nil {
		// The timeout ran out while the stream was being opened.
		scancel()
		err = status.Errorf(codes.DeadlineExceeded, "weft: %s: opening a stream: no answer within the timeout of %v", s.call.Destination().Service, s.call.Timeout())
		end.refuse()
		return judge(sctx, t, a, observed, nil, err, true)
	}
	if err != nil {
		end.refuse()
		return judge(sctx, t, a, observed, nil, err, false)
	}
	endAttempt(sctx, t, observed, retryOutcomeOK, nil, true)
	return engine.Result[any]{Value: &openedStream{cs: cs, end: end}, Outcome: retryOutcomeOK}
}

var retryOutcomeOK = retry.Outcome{Status: http.StatusOK}

// Discard implements [engine.Attempter]: a stream that failed to open
// holds nothing.
func (s *streamCall) Discard(*engine.Try, engine.Result[any]) {}

// Rewind implements [engine.Attempter]: nothing was sent on a stream that
// failed to open.
func (s *streamCall) Rewind() bool { return true }
