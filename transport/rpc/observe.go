package rpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/observe"
)

// observedAttempt is what the observer is told of one attempt, and where
// it writes the attempt's trace context.
type observedAttempt struct {
	carrier mdCarrier
	peer    peer.Peer // filled in by gRPC once the attempt's stream exists
}

// startAttempt tells the observer, if any, that attempt t starts and
// returns its context, carrying the trace context the observer wrote as
// the attempt's own outgoing metadata, and the call options that report
// its peer. The endpoint is not known yet (the balancer picks it within
// the attempt): the engine fills it in when the attempt ends.
func startAttempt(ctx context.Context, t *engine.Try, opts []grpc.CallOption) (context.Context, *observedAttempt, []grpc.CallOption) {
	if !t.Call().Observed() {
		return ctx, nil, opts
	}
	o := &observedAttempt{}
	o.carrier.shared, _ = metadata.FromOutgoingContext(ctx)
	ctx = t.Observe(ctx, nil, &o.carrier)
	if len(o.carrier.own) > 0 {
		ctx = setOutgoing(ctx, o.carrier.own)
	}
	return ctx, o, append(opts[:len(opts):len(opts)], grpc.Peer(&o.peer))
}

// endAttempt tells the observer how attempt t, observed as o, ended with
// err and outcome; received reports that the server answered with err's
// status. ctx is what startAttempt returned.
func endAttempt(ctx context.Context, t *engine.Try, o *observedAttempt, outcome retry.Outcome, err error, received bool) {
	if o == nil {
		return
	}
	f := engine.Finish{Outcome: outcome}
	if tls, ok := o.peer.AuthInfo.(credentials.TLSInfo); ok {
		f.TLS = &tls.State
	}
	if err == nil || received {
		f.Status = int(status.Code(err))
	} else {
		f.Err = err
	}
	// A caller that gave up, or a winning hedge, cancelled the attempt;
	// a passed deadline is a timeout.
	f.Abandoned = t.Lost() || errors.Is(t.CallErr(), context.Canceled) || status.Code(err) == codes.Canceled
	if f.Outcome.Failure == retry.Reset && errors.Is(t.CallErr(), context.DeadlineExceeded) {
		f.Outcome.Failure = retry.Timeout
	}
	t.Finish(ctx, f)
}

// mdCarrier is an attempt's [observe.Carrier]: it reads the call's
// outgoing metadata and keeps what the observer writes apart, as
// key-value pairs, so that each attempt sends trace context of its own.
type mdCarrier struct {
	shared metadata.MD // the call's, read only
	own    []string
	parent tracectx.Text
}

// SetParent implements [tracectx.Writer]: the traceparent's value lives in
// the carrier.
func (m *mdCarrier) SetParent(p tracectx.Parent) {
	m.Set(tracectx.ParentHeader, m.parent.Format(p))
}

func (m *mdCarrier) Get(key string) string {
	key = strings.ToLower(key)
	for i := 0; i < len(m.own); i += 2 {
		if m.own[i] == key {
			return m.own[i+1]
		}
	}
	return first(m.shared, key)
}

func (m *mdCarrier) Set(key, value string) {
	key = strings.ToLower(key)
	for i := 0; i < len(m.own); i += 2 {
		if m.own[i] == key {
			m.own[i+1] = value
			return
		}
	}
	m.own = append(m.own, key, value)
}

func (m *mdCarrier) Keys() []string {
	keys := make([]string, 0, len(m.shared)+len(m.own)/2)
	for k := range m.shared {
		keys = append(keys, k)
	}
	for i := 0; i < len(m.own); i += 2 {
		if _, ok := m.shared[m.own[i]]; !ok {
			keys = append(keys, m.own[i])
		}
	}
	return keys
}

// incomingCarrier adapts a call's incoming metadata to [observe.Carrier],
// for the server's observer to read the caller's trace context.
type incomingCarrier metadata.MD

func (m incomingCarrier) Get(key string) string { return first(metadata.MD(m), strings.ToLower(key)) }

func (m incomingCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }

func (m incomingCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// streamEnd ends an observed stream call once: when the stream the
// caller got finishes, which may happen before or after the interceptor
// learns that it opened.
type streamEnd struct {
	mu       sync.Mutex
	open     bool // the interceptor returned the stream: its end is the call's
	refused  bool // the attempt failed: the interceptor ends the call
	finished bool
	err      error
}

// finish is the attempt's grpc.OnFinish callback; it reports whether the
// call ends now, with err.
func (s *streamEnd) finish(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused || s.finished {
		return false
	}
	s.finished, s.err = true, err
	return s.open
}

// opened marks the stream handed to the caller and reports whether it had
// already finished, and with what error.
func (s *streamEnd) opened() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open = true
	return s.finished, s.err
}

// refuse marks a stream that failed to open; it does nothing for an
// unobserved call, which has no streamEnd.
func (s *streamEnd) refuse() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.refused = true
	s.mu.Unlock()
}

// observeInbound tells the server's observer, if any, that a call to
// fullMethod arrives, and returns the handler's context and the record
// to end with endInbound; the observer is nil when the call is not
// observed. Health checks are not: they are the mesh's, not the service's
// traffic.
func (s *server) observeInbound(ctx context.Context, fullMethod string) (context.Context, observe.InboundObserver, *observe.InboundInfo) {
	if s.in == nil || strings.HasPrefix(fullMethod, healthPrefix) {
		return ctx, nil, nil
	}
	obs := s.in.Observer()
	if obs == nil {
		return ctx, nil, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	st := new(observedInbound)
	info := &st.info
	*info = observe.InboundInfo{Protocol: observe.ProtocolGRPC, Method: fullMethod, Start: time.Now(), Carrier: incomingCarrier(md), Trace: &st.trace}
	ctx = obs.StartInbound(ctx, info)
	info.Carrier, info.Trace = nil, nil
	return ctx, obs, info
}

// observedInbound is an observed call's record and the trace context of
// a caller that sampled the trace out, in one allocation.
type observedInbound struct {
	info  observe.InboundInfo
	trace tracectx.Remote
}

// endInbound tells obs that the call observed as info ended with err;
// ctx is what StartInbound returned.
func endInbound(ctx context.Context, obs observe.InboundObserver, info *observe.InboundInfo, err error) {
	info.End = time.Now()
	info.Status = int(status.Code(err))
	if p, ok := peer.FromContext(ctx); ok {
		if tls, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			info.TLS = &tls.State
		}
	}
	obs.EndInbound(ctx, info)
}
