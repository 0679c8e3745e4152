package rpc

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// picker is an immutable snapshot of a channel's READY endpoints. For
// each call it asks the policy's resilience.Picker for an endpoint (of the
// route's subset, avoiding the one that just failed), checks the
// endpoint's breaker, and delegates to that endpoint's pick_first child.
type picker struct {
	dest       *destination
	all        resilience.Picker
	subsets    map[string]resilience.Picker // nil without routes
	readyIn    map[string]int               // READY endpoints per subset
	known      map[string]int               // endpoints per subset, ready or not
	children   map[*resilience.Endpoint]balancer.Picker
	addrs      []string // of the READY endpoints: the breaker keys
	connecting int      // endpoints that may become READY
	failing    int      // endpoints that failed to connect
	lastErr    error    // why, for one of them
}

func newPicker(dst *destination, children []endpointsharding.ChildState) *picker {
	p := &picker{dest: dst, children: make(map[*resilience.Endpoint]balancer.Picker, len(children))}
	states := make(map[*resilience.Endpoint]balancer.State, len(children))
	for _, c := range children {
		if ep, ok := c.Endpoint.Attributes.Value(endpointAttr{}).(*resilience.Endpoint); ok {
			states[ep] = c.State
		}
	}
	// In the snapshot's order, so that pickers see a stable list.
	var ready []*resilience.Endpoint
	for _, ep := range dst.endpoints {
		s, ok := states[ep]
		if !ok {
			p.connecting++ // its child is being made
			continue
		}
		switch s.ConnectivityState {
		case connectivity.Ready:
			ready = append(ready, ep)
			p.children[ep] = s.Picker
			p.addrs = append(p.addrs, ep.Addr)
		case connectivity.TransientFailure:
			p.failing++
			if p.lastErr == nil && s.Picker != nil {
				_, p.lastErr = s.Picker.Pick(balancer.PickInfo{})
			}
		default:
			p.connecting++
		}
	}
	p.all = dst.builder.Build(ready)
	if dst.routes != nil {
		meta := func(ep *resilience.Endpoint) (string, map[string]string) { return ep.Version, dst.labels[ep] }
		p.subsets = make(map[string]resilience.Picker)
		p.readyIn = make(map[string]int)
		for name, members := range route.Partition(dst.routes, ready, meta) {
			p.subsets[name] = dst.builder.Build(members)
			p.readyIn[name] = len(members)
		}
		p.known = make(map[string]int)
		for name, members := range route.Partition(dst.routes, dst.endpoints, meta) {
			p.known[name] = len(members)
		}
	}
	return p
}

// Pick implements balancer.Picker.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	a, _ := info.Ctx.Value(attemptKey{}).(*attempt)
	rp, pi := p.all, resilience.PickInfo{}
	if a != nil {
		pi = a.info
		if a.subset != "" {
			rp = p.subsets[a.subset]
		}
	}
	if err := p.unavailable(a); err != nil {
		return balancer.PickResult{}, err
	}
	for range 3 {
		ep, err := rp.Pick(pi)
		if err != nil {
			return balancer.PickResult{}, fmt.Errorf("weft: service %q: %w", p.dest.service, err)
		}
		child := p.children[ep]
		var verdict func(bool)
		if b := p.dest.breakers; b != nil {
			if verdict, err = b.Allow(ep.Addr); err != nil {
				if all := b.CheckAll(p.addrs); all != nil {
					return balancer.PickResult{}, fmt.Errorf("weft: service %q: %w", p.dest.service, all)
				}
				pi.Avoid = ep
				continue
			}
		}
		res, err := child.Pick(info)
		if err != nil {
			if verdict != nil {
				verdict(true) // not sent: no verdict on the endpoint
			}
			return res, err
		}
		ep.Begin()
		res.Done = p.done(ep, verdict, res.Done, a, time.Now())
		if a != nil {
			a.picked(ep, res.Done)
		}
		return res, nil
	}
	return balancer.PickResult{}, fmt.Errorf("weft: service %q: %w", p.dest.service, breaker.ErrOpen)
}

// unavailable returns why nothing can be picked for a, or nil. While an
// endpoint may still become READY the call waits for the next picker
// (balancer.ErrNoSubConnAvailable), within its deadline. Other errors are
// not status errors, so that gRPC fails the call with Unavailable, or
// keeps a wait-for-ready call waiting for an endpoint.
func (p *picker) unavailable(a *attempt) error {
	subset := ""
	if a != nil {
		subset = a.subset
	}
	ready, known := len(p.children), len(p.dest.endpoints)
	if subset != "" {
		ready, known = p.readyIn[subset], p.known[subset]
	}
	switch {
	case ready > 0:
		return nil
	case known == 0 && subset != "":
		return fmt.Errorf("weft: service %q: %w: the route's subset %q has no ready endpoint", p.dest.service, transport.ErrNoEndpoint, subset)
	case known == 0:
		why := "no member of the mesh serves it over gRPC"
		if p.dest.unready > 0 {
			why = fmt.Sprintf("%d instance(s) known, none ready (starting or draining)", p.dest.unready)
		}
		return fmt.Errorf("weft: service %q: %w: %s", p.dest.service, transport.ErrNoEndpoint, why)
	case p.connecting > 0:
		return balancer.ErrNoSubConnAvailable
	}
	return fmt.Errorf("weft: service %q: %w: %d endpoint(s) failing to connect: %v", p.dest.service, transport.ErrNoEndpoint, p.failing, p.lastErr)
}

// done returns the callback gRPC calls when the call picked for ep ends:
// for a stream, when the stream ends. It releases the endpoint and hands
// the outcome to its breaker, outlier detection and latency estimate.
func (p *picker) done(ep *resilience.Endpoint, verdict func(bool), childDone func(balancer.DoneInfo), a *attempt, start time.Time) func(balancer.DoneInfo) {
	var once atomic.Bool
	return func(di balancer.DoneInfo) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		if childDone != nil {
			childDone(di)
		}
		ep.End()
		r := result{finished: true, sent: di.BytesSent, received: di.BytesReceived, err: di.Err}
		if a != nil {
			a.finish(r, di.Trailer)
		}
		code := status.Code(di.Err)
		// Nothing was sent (gRPC found the connection not ready and picks
		// again), or the call, or a winning hedge, ended the attempt: no
		// verdict on the endpoint.
		abandoned := !di.BytesSent && di.Err == nil || a != nil && a.callOver() ||
			code == codes.Canceled && !di.BytesReceived
		o := r.outcome(code == codes.DeadlineExceeded && !di.BytesReceived)
		if verdict != nil {
			verdict(abandoned || healthy(o))
		}
		if abandoned {
			return
		}
		if a != nil && !a.stream {
			// A stream's duration is not a latency; only calls feed the
			// estimate peak_ewma reads.
			ep.Observe(time.Since(start), !healthy(o))
		}
		if healthy(o) {
			ep.MarkUp()
		}
		if ol := p.dest.outliers; ol != nil {
			ol.Observe(ep.Addr, outlierOutcome(o))
		}
	}
}

// attemptKey is the context key of the current attempt of a call.
type attemptKey struct{}

// attempt is one try of a call: what the interceptor asks of the picker,
// and what the picker and the done callback tell the interceptor back.
type attempt struct {
	subset string
	info   resilience.PickInfo
	stream bool
	// callDone is closed when the whole call is over (its deadline passed
	// or its caller gave up): outcomes after that are not the endpoint's.
	callDone <-chan struct{}

	mu      sync.Mutex
	ep      *resilience.Endpoint
	release func(balancer.DoneInfo) // the picked endpoint's done callback
	res     result
	trailer metadata.MD
}

func (a *attempt) picked(ep *resilience.Endpoint, release func(balancer.DoneInfo)) {
	a.mu.Lock()
	a.ep, a.release = ep, release
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

// outcome returns the endpoint the attempt went to (nil if none was
// picked) and how it ended.
func (a *attempt) outcome() (*resilience.Endpoint, result, metadata.MD) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ep, a.res, a.trailer
}

func (a *attempt) callOver() bool {
	select {
	case <-a.callDone:
		return true
	default:
		return false
	}
}
