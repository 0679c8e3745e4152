package rpc

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
)

// picker is an immutable snapshot of a channel's READY endpoints. For
// each attempt it asks the engine to pick one of them ([engine.Try.Pick]:
// the route's subset, not the endpoint that just failed, one whose
// breaker lets the attempt through) and delegates to that endpoint's
// pick_first child.
type picker struct {
	dest       *engine.Destination
	ready      *engine.Pickers // over the READY endpoints
	children   map[*resilience.Endpoint]balancer.Picker
	connecting int   // endpoints that may become READY
	failing    int   // endpoints that failed to connect
	lastErr    error // why, for one of them
}

func newPicker(dst *engine.Destination, children []endpointsharding.ChildState) *picker {
	p := &picker{dest: dst, children: make(map[*resilience.Endpoint]balancer.Picker, len(children))}
	states := make(map[*resilience.Endpoint]balancer.State, len(children))
	for _, c := range children {
		if ep, ok := c.Endpoint.Attributes.Value(endpointAttr{}).(*resilience.Endpoint); ok {
			states[ep] = c.State
		}
	}
	// In the snapshot's order, so that pickers see a stable list.
	var ready []*resilience.Endpoint
	for _, ep := range dst.Endpoints(engine.GRPC) {
		s, ok := states[ep]
		if !ok {
			p.connecting++ // its child is being made
			continue
		}
		switch s.ConnectivityState {
		case connectivity.Ready:
			ready = append(ready, ep)
			p.children[ep] = s.Picker
		case connectivity.TransientFailure:
			p.failing++
			if p.lastErr == nil && s.Picker != nil {
				_, p.lastErr = s.Picker.Pick(balancer.PickInfo{})
			}
		default:
			p.connecting++
		}
	}
	p.ready = dst.NewPickers(engine.GRPC, ready)
	return p
}

// Pick implements balancer.Picker.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	a, _ := info.Ctx.Value(attemptKey{}).(*attempt)
	if a == nil {
		return balancer.PickResult{}, status.Errorf(codes.Internal, "weft: service %q: a call reached the channel without the mesh's interceptors", p.dest.Service)
	}
	if err := p.unavailable(a.try.Call().Subset()); err != nil {
		return balancer.PickResult{}, err
	}
	pk, err := a.try.Pick(p.ready)
	if err != nil {
		if errors.Is(err, breaker.ErrAllOpen) && p.connecting > 0 {
			// Every READY endpoint's breaker is open, but another
			// endpoint is still connecting: wait for it.
			return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
		}
		return balancer.PickResult{}, err
	}
	res, err := p.children[pk.Endpoint].Pick(info)
	if err != nil {
		pk.Abandon()
		return res, err
	}
	res.Done = done(pk, res.Done, a)
	a.picked(res.Done)
	return res, nil
}

// unavailable returns why nothing can be picked in subset, or nil. While
// an endpoint may still become READY the call waits for the next picker
// (balancer.ErrNoSubConnAvailable), within its deadline. Other errors are
// not status errors, so that gRPC fails the call with Unavailable, or
// keeps a wait-for-ready call waiting for an endpoint.
func (p *picker) unavailable(subset string) error {
	ready, known := p.ready.Len(subset), p.dest.Pickers(engine.GRPC).Len(subset)
	switch {
	case ready > 0:
		return nil
	case known == 0:
		return p.dest.NoEndpoint(engine.GRPC, subset)
	case p.connecting > 0:
		return balancer.ErrNoSubConnAvailable
	}
	return fmt.Errorf("weft: service %q: %w: %d endpoint(s) failing to connect: %v", p.dest.Service, engine.ErrNoEndpoint, p.failing, p.lastErr)
}

// done returns the callback gRPC calls when the attempt picked for pk's
// endpoint ends: for a stream, when the stream ends. It ends the
// endpoint's request in flight and hands the outcome to the engine's
// verdict (breaker, outlier detection, latency estimate).
func done(pk engine.Picked, childDone func(balancer.DoneInfo), a *attempt) func(balancer.DoneInfo) {
	var once atomic.Bool
	return func(di balancer.DoneInfo) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		if childDone != nil {
			childDone(di)
		}
		pk.End()
		r := result{finished: true, sent: di.BytesSent, received: di.BytesReceived, err: di.Err}
		a.finish(r, di.Trailer)
		code := status.Code(di.Err)
		// Nothing was sent (gRPC found the connection not ready and picks
		// again), or the call, or a winning hedge, ended the attempt: no
		// verdict on the endpoint.
		abandoned := !di.BytesSent && di.Err == nil || a.try.Abandoned() ||
			code == codes.Canceled && !di.BytesReceived
		o := r.outcome(code == codes.DeadlineExceeded && !di.BytesReceived)
		pk.Done(engine.Verdict{Outcome: o, Abandoned: abandoned, Stream: a.stream})
	}
}

// attemptKey is the context key of the current attempt of a call.
type attemptKey struct{}

// attempt is one try of a call as the channel sends it: the engine's Try,
// and what the done callback tells the interceptor back.
type attempt struct {
	try    *engine.Try
	stream bool

	mu      sync.Mutex
	release func(balancer.DoneInfo) // the picked endpoint's done callback
	res     result
	trailer metadata.MD
}

func (a *attempt) picked(release func(balancer.DoneInfo)) {
	a.mu.Lock()
	a.release = release
	a.mu.Unlock()
}

// abandon ends an attempt that gRPC left unfinished: a unary call whose
// stream ended before its response returns a bare io.EOF, and gRPC never
// calls the done callback then. The endpoint is released and the outcome
// recorded as err, once.
func (a *attempt) abandon(err error) {
	a.mu.Lock()
	release, finished := a.release, a.res.finished
	a.mu.Unlock()
	if release != nil && !finished {
		release(balancer.DoneInfo{Err: err, BytesSent: true})
	}
}

func (a *attempt) finish(r result, trailer metadata.MD) {
	a.mu.Lock()
	a.res, a.trailer = r, trailer
	a.mu.Unlock()
}

// outcome returns how the attempt ended, as its done callback saw it.
func (a *attempt) outcome() (result, metadata.MD) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.res, a.trailer
}
