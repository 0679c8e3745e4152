package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/observe"
)

// markDownFor is how long an endpoint that could not be reached is kept
// out of picking, unless it is the only one. Gossip takes a crashed
// member out of the catalog within seconds, and with it the endpoint; a
// member that comes back after a partition is a new endpoint. The mark
// outlasts gossip's verdict so that a dead endpoint is never picked
// again in between; it ends by itself for a member that gossip keeps but
// whose listener refuses, as Envoy's base ejection time does.
const markDownFor = 30 * time.Second

// Try is one attempt of a call. The scheduler ([Run]) makes it and hands
// it to the protocol's attempt function, which sends it; the protocol
// picks the attempt's endpoint with [Try.Pick] (HTTP: the scheduler does,
// before the attempt; gRPC: the channel's balancer, within it) and
// reports the endpoint's outcome with [Picked.Done].
//
// Pick, Endpoint and Abandoned may be called from any goroutine.
type Try struct {
	c       *Call
	n       int
	hedge   bool
	avoid   *resilience.Endpoint
	ctx     context.Context    // the attempt's own
	callCtx context.Context    // the call's, to tell the call's end from the attempt's
	cancel  context.CancelFunc // ends ctx; noCancel when ctx is the call's
	lost    atomic.Bool        // the scheduler cancelled it: another attempt won

	picked Picked // chosen by the scheduler before the attempt, if it picks

	mu    sync.Mutex
	ep    *resilience.Endpoint // the latest endpoint picked
	info  *observe.AttemptInfo // nil when not observed
	ended bool                 // the observer was told of the end
}

// N numbers the call's attempts from 1, in the order they started.
func (t *Try) N() int { return t.n }

// Hedge reports whether a hedge timer started the attempt.
func (t *Try) Hedge() bool { return t.hedge }

// Concurrent reports whether the attempt may run alongside others of its
// call (a hedged call): it then needs state of its own, such as a reply
// to decode into.
func (t *Try) Concurrent() bool { return t.cancel != nil && t.c.Hedged() }

// Call returns the call the attempt belongs to.
func (t *Try) Call() *Call { return t.c }

// Picked returns the endpoint the scheduler picked for the attempt before
// it started, when the protocol lets the scheduler pick.
func (t *Try) Picked() Picked { return t.picked }

// Endpoint returns the endpoint picked last for the attempt, nil if none.
func (t *Try) Endpoint() *resilience.Endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ep
}

// Abandoned reports whether the attempt no longer matters: the call is
// over, or another attempt of it won. Its outcome then says nothing of
// its endpoint.
func (t *Try) Abandoned() bool { return t.lost.Load() || t.callCtx.Err() != nil }

// Lost reports whether another attempt of the call won, and the
// scheduler cancelled this one.
func (t *Try) Lost() bool { return t.lost.Load() }

// CallErr returns the error of the call's context: non-nil once the
// call's deadline passed or its caller gave up.
func (t *Try) CallErr() error { return t.callCtx.Err() }

// TimedOut reports whether the attempt's own timeout (retries'
// perTryTimeout) ended it.
func (t *Try) TimedOut() bool { return t.ctx.Err() != nil && !t.Abandoned() }

// Release ends the attempt's own context. The protocol calls it once it is
// done with the attempt's answer: at once after a failure, or when the
// caller closes a response body.
func (t *Try) Release() {
	if t.cancel != nil {
		t.cancel()
	}
}

// Picked is an endpoint chosen for an attempt and admitted by its
// breaker, with one request in flight counted. Exactly one of
// [Picked.Abandon] and [Picked.Done] must follow, and after Done, exactly
// one [Picked.End].
type Picked struct {
	Endpoint *resilience.Endpoint
	t        *Try
	verdict  func(success bool) // the breaker's; nil without breakers
	start    time.Time
}

// Pick chooses the attempt's endpoint from ps: one of the call's subset,
// not the endpoint the previous attempt failed on when another is usable,
// and one whose breaker lets the attempt through (when every breaker holds
// requests back, the call fails fast). It counts the call as one that
// reached an endpoint. Pick does not block.
func (t *Try) Pick(ps *Pickers) (Picked, error) {
	st := t.c.d.st
	info := t.c.info
	info.Avoid = t.avoid
	for range 3 {
		ep, err := ps.pick(t.c.subset, info)
		if err != nil {
			return Picked{}, err
		}
		pk := Picked{Endpoint: ep, t: t}
		if b := st.breakers; b != nil {
			if pk.verdict, err = b.Allow(ep.Node); err != nil {
				if all := b.CheckAll(ps.nodes()); all != nil {
					return Picked{}, fmt.Errorf("weft: service %q: %w", t.c.d.Service, all)
				}
				info.Avoid = ep
				continue
			}
		}
		pk.start = t.c.pickTime(t.n)
		t.c.deposit(pk.start)
		ep.Begin()
		t.mu.Lock()
		t.ep = ep
		t.mu.Unlock()
		return pk, nil
	}
	return Picked{}, fmt.Errorf("weft: service %q: %w", t.c.d.Service, breaker.ErrOpen)
}

// Abandon withdraws a pick whose attempt was never sent: the endpoint gets
// no verdict and its request in flight ends.
func (pk Picked) Abandon() {
	if pk.verdict != nil {
		pk.verdict(true)
	}
	pk.Endpoint.End()
}

// End ends the endpoint's request in flight: when the response is
// finished with (HTTP: the body closed; gRPC: the call or stream over).
func (pk Picked) End() { pk.Endpoint.End() }

// Verdict is how an attempt ended, as its endpoint is judged.
type Verdict struct {
	// Outcome is the attempt's outcome in the retry policy's terms.
	Outcome retry.Outcome
	// Abandoned reports that the call, or another attempt that won, ended
	// the attempt: the outcome says nothing of the endpoint.
	Abandoned bool
	// Unreachable reports that no connection could be made: the endpoint
	// is kept out of picking for a while.
	Unreachable bool
	// Stream reports that the attempt was a stream, whose duration is not
	// a latency.
	Stream bool
}

// Done hands the outcome of the attempt sent to pk's endpoint to the
// endpoint's breaker, outlier detection, down mark and latency estimate:
// one verdict for every protocol. A 429 is the server pacing this caller,
// not a failing endpoint. Done may be called from any goroutine.
//
// It returns the time it read as the attempt's end when that is a reading
// of the real clock, for [Finish] End; otherwise the zero time.
func (pk Picked) Done(v Verdict) (end time.Time) {
	ep, t := pk.Endpoint, pk.t
	st := t.c.d.st
	healthy := v.Outcome.Failure == retry.NoFailure && v.Outcome.Status < 500
	var opened, closed, ejected bool
	if pk.verdict != nil {
		before := st.breakers.State(ep.Node)
		pk.verdict(healthy || v.Abandoned)
		after := st.breakers.State(ep.Node)
		opened = before != breaker.Open && after == breaker.Open
		closed = before != breaker.Closed && after == breaker.Closed
	}
	if !v.Abandoned && !v.Stream || v.Unreachable {
		end = st.now()
	}
	if v.Unreachable {
		ep.MarkDown(end.Add(markDownFor))
	}
	if !v.Abandoned {
		if !v.Stream {
			ep.ObserveAt(end, end.Sub(pk.start), !healthy)
		}
		if healthy {
			ep.MarkUp()
		}
		if o := st.outliers; o != nil {
			before := o.Ejected(ep.Node)
			o.Observe(ep.Node, outlierOutcome(v.Outcome))
			ejected = !before && o.Ejected(ep.Node)
		}
	}
	if opened || closed || ejected {
		t.mu.Lock()
		if t.info != nil && !t.ended {
			t.info.BreakerOpened, t.info.BreakerClosed, t.info.Ejected = opened, closed, ejected
		}
		t.mu.Unlock()
	}
	if !st.realClock {
		return time.Time{}
	}
	return end
}

func outlierOutcome(o retry.Outcome) outlier.Outcome {
	if o.Failure != retry.NoFailure {
		return outlier.ConnectFailure
	}
	return outlier.FromStatus(o.Status)
}

// Observe tells the observer, if any, that the attempt starts, and returns
// the attempt's context. ep is its endpoint when known (nil when the
// protocol picks it within the attempt); carrier is the attempt's own,
// where an observer writes the trace context the attempt sends.
func (t *Try) Observe(ctx context.Context, ep *resilience.Endpoint, carrier observe.Carrier) context.Context {
	c := t.c
	if c.obs == nil {
		return ctx
	}
	start := t.picked.start
	if t.picked.Endpoint == nil || !c.d.st.realClock {
		start = time.Now()
	}
	// The first attempt's record comes with the call's; a later one,
	// which may run beside it, has its own.
	var info *observe.AttemptInfo
	if t == &c.first {
		info = &c.seen.first
	} else {
		info = new(observe.AttemptInfo)
	}
	*info = observe.AttemptInfo{N: t.n, Hedge: t.hedge, Start: start, Carrier: carrier}
	t.mu.Lock()
	if ep != nil {
		info.Endpoint, info.Node = ep.Addr, ep.Node
	}
	t.info = info
	t.mu.Unlock()
	return c.obs.StartAttempt(ctx, c.rec, info)
}

// Finish is how an attempt ended, as its observer is told.
type Finish struct {
	// Outcome and Abandoned are as in [Verdict].
	Outcome   retry.Outcome
	Abandoned bool
	// Status is the answer's HTTP status or gRPC code; 0 without one.
	Status int
	// Err is the attempt's error when it got no answer.
	Err error
	// TLS is the state of the connection that answered; nil in plaintext.
	TLS *tls.ConnectionState
	// End is when the attempt ended, as [Picked.Done] returned it; if
	// zero, Finish reads the clock.
	End time.Time
}

// Finish tells the observer how the attempt ended, keeps its record for
// the routing history, and makes its endpoint and connection the call's
// answer unless the attempt was abandoned. ctx is what Observe returned.
// It does nothing for an unobserved attempt.
func (t *Try) Finish(ctx context.Context, f Finish) {
	c := t.c
	t.mu.Lock()
	info, ep := t.info, t.ep
	if info != nil {
		t.ended = true
	}
	t.mu.Unlock()
	if info == nil {
		return
	}
	info.End = f.End
	if info.End.IsZero() {
		info.End = time.Now()
	}
	info.Status, info.Err, info.TLS = f.Status, f.Err, f.TLS
	if info.Endpoint == "" && ep != nil {
		info.Endpoint, info.Node = ep.Addr, ep.Node
	}
	info.Outcome = outcomeName(f.Outcome, f.Abandoned)
	if !f.Abandoned {
		// The call's answer is its latest attempt that was not cut.
		c.rec.Endpoint, c.rec.TLS = info.Endpoint, info.TLS
	}
	c.rec.RecordAttempt(info)
	c.obs.EndAttempt(ctx, c.rec, info)
}

// outcomeName names how an attempt ended, in the terms of
// [observe.AttemptInfo] Outcome.
func outcomeName(o retry.Outcome, abandoned bool) string {
	switch {
	case abandoned:
		return "cancelled"
	case o.Failure == retry.ConnectFailure:
		return "connect-failure"
	case o.Failure == retry.Timeout:
		return "timeout"
	case o.Failure != retry.NoFailure:
		return "reset"
	case failed(o):
		return "error"
	}
	return "ok"
}

// failed reports whether an outcome counts as a failure for retries and
// hedges: a failure without an answer, a 5xx or a 429.
func failed(o retry.Outcome) bool {
	return o.Failure != retry.NoFailure || o.Status >= 500 || o.Status == 429
}
