package rpc

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport"
)

// observer returns the observer of the dialer's calls, or nil.
func (d *Dialer) observer() transport.CallObserver {
	if d.cfg.Observer == nil {
		return nil
	}
	return d.cfg.Observer()
}

// startCall tells obs that c starts and returns the context its attempts
// start from. Mirrored copies are not observed, as on the HTTP path.
func (c *call) startCall(ctx context.Context, obs transport.CallObserver, source string) context.Context {
	if obs == nil || c.mirrored {
		return ctx
	}
	c.obs = obs
	c.rec = &transport.CallInfo{
		Protocol: transport.ProtocolGRPC, Source: source, Destination: c.dest.service,
		Method: c.method, Route: c.route.Name(), Subset: c.subset, Start: time.Now(),
		Balancer: c.dest.cfg.LoadBalancer,
	}
	return obs.StartCall(ctx, c.rec)
}

// endCall tells the observer that the call ended with err; ctx is what
// startCall returned. Any code but OK counts as the call's error, so that
// the routing history and the access log say what went wrong.
func (c *call) endCall(ctx context.Context, err error) {
	if c.obs == nil {
		return
	}
	c.rec.Status = int(status.Code(err))
	c.rec.Err = err
	c.rec.End = time.Now()
	c.obs.EndCall(ctx, c.rec)
}

// observedAttempt is what the observer is told of one attempt, and where
// it writes the attempt's trace context.
type observedAttempt struct {
	info    transport.AttemptInfo
	carrier mdCarrier
	peer    peer.Peer // filled in by gRPC once the attempt's stream exists
}

// startAttempt tells the observer that attempt a starts and returns its
// context, carrying the trace context the observer wrote as the attempt's
// own outgoing metadata, and the call options that report its peer. The
// endpoint is not known yet (the balancer picks it within the attempt):
// it is set when the attempt ends. It runs on the call's goroutine.
func (c *call) startAttempt(ctx context.Context, hedge bool, opts []grpc.CallOption) (context.Context, *observedAttempt, []grpc.CallOption) {
	if c.obs == nil {
		return ctx, nil, opts
	}
	c.rec.Attempts++
	if hedge {
		c.rec.Hedges++
	}
	t := &observedAttempt{}
	t.carrier.shared, _ = metadata.FromOutgoingContext(ctx)
	t.info = transport.AttemptInfo{N: c.rec.Attempts, Hedge: hedge, Start: time.Now(), Carrier: &t.carrier}
	ctx = c.obs.StartAttempt(ctx, c.rec, &t.info)
	t.info.Carrier = nil
	if len(t.carrier.own) > 0 {
		ctx = setOutgoing(ctx, t.carrier.own)
	}
	return ctx, t, append(opts[:len(opts):len(opts)], grpc.Peer(&t.peer))
}

// endAttempt tells the observer how attempt a, observed as t, ended with
// err and keeps its record; cancelled says that the call or a winning
// hedge ended it. ctx is what startAttempt returned.
func (c *call) endAttempt(ctx context.Context, t *observedAttempt, a *attempt, err error, timedOut, cancelled bool) {
	if t == nil {
		return
	}
	ep, r, _ := a.outcome()
	if r.err == nil {
		r.err = err
	}
	info := &t.info
	info.End = time.Now()
	if ep != nil {
		info.Endpoint, info.Node = ep.Addr, ep.Node
	}
	if tls, ok := t.peer.AuthInfo.(credentials.TLSInfo); ok {
		info.TLS = &tls.State
	}
	if !cancelled {
		// The call's answer is its latest attempt's that was not cut.
		c.rec.Endpoint, c.rec.TLS = info.Endpoint, info.TLS
	}
	if err == nil || r.received {
		info.Status = int(status.Code(err))
	} else {
		info.Err = err
	}
	info.Outcome = attemptOutcome(ep != nil, r, err, timedOut, cancelled)
	c.rec.RecordAttempt(info)
	c.obs.EndAttempt(ctx, c.rec, info)
}

// attemptOutcome names how an attempt ended, in the terms of
// [transport.AttemptInfo.Outcome].
func attemptOutcome(picked bool, r result, err error, timedOut, cancelled bool) string {
	if err == nil {
		return "ok"
	}
	if cancelled || status.Code(err) == codes.Canceled {
		return "cancelled"
	}
	if !picked {
		return "connect-failure"
	}
	o := r.outcome(timedOut)
	switch {
	case o.Failure == retry.ConnectFailure:
		return "connect-failure"
	case o.Failure == retry.Timeout:
		return "timeout"
	case o.Failure != retry.NoFailure:
		return "reset"
	case failed(o):
		return "error"
	}
	// A status the retry policy does not count as failed (NotFound,
	// InvalidArgument...) is an answer, as a 4xx is on the HTTP path.
	return "ok"
}

// mdCarrier is an attempt's [transport.Carrier]: it reads the call's
// outgoing metadata and keeps what the observer writes apart, as
// key-value pairs, so that each attempt sends trace context of its own.
type mdCarrier struct {
	shared metadata.MD // the call's, read only
	own    []string
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

// incomingCarrier adapts a call's incoming metadata to [transport.Carrier],
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

func (s *streamEnd) refuse() {
	s.mu.Lock()
	s.refused = true
	s.mu.Unlock()
}

// observeInbound tells the server's observer, if any, that a call to
// fullMethod arrives, and returns the handler's context and the record
// to end with endInbound; the observer is nil when the call is not
// observed. Health checks are not: they are the mesh's, not the service's
// traffic.
func (s *server) observeInbound(ctx context.Context, fullMethod string) (context.Context, transport.InboundObserver, *transport.InboundInfo) {
	if s.in == nil || strings.HasPrefix(fullMethod, healthPrefix) {
		return ctx, nil, nil
	}
	obs := s.in.Observer()
	if obs == nil {
		return ctx, nil, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	info := &transport.InboundInfo{Protocol: transport.ProtocolGRPC, Method: fullMethod, Start: time.Now(), Carrier: incomingCarrier(md)}
	ctx = obs.StartInbound(ctx, info)
	info.Carrier = nil
	return ctx, obs, info
}

// endInbound tells obs that the call observed as info ended with err;
// ctx is what StartInbound returned.
func endInbound(ctx context.Context, obs transport.InboundObserver, info *transport.InboundInfo, err error) {
	info.End = time.Now()
	info.Status = int(status.Code(err))
	if p, ok := peer.FromContext(ctx); ok {
		if tls, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			info.TLS = &tls.State
		}
	}
	obs.EndInbound(ctx, info)
}
