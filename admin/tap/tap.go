package tap

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport/observe"
)

// Tap hands the requests of a node to its subscribers. It implements
// [observe.CallObserver] and [observe.InboundObserver]; all methods
// are safe for concurrent use and none blocks.
type Tap struct {
	service  string
	watching atomic.Int32 // subscriptions open
	headers  atomic.Pointer[map[string]bool]

	mu   sync.Mutex // guards subs
	subs map[*Subscription]struct{}
}

var (
	_ observe.CallObserver    = (*Tap)(nil)
	_ observe.InboundObserver = (*Tap)(nil)
)

// New returns a tap for the node that hosts service.
func New(service string) *Tap {
	t := &Tap{service: service, subs: map[*Subscription]struct{}{}}
	t.SetHeaders(nil)
	return t
}

// SetHeaders sets the header names whose values events show (matched
// without regard to case); every other value is [Redacted]. It may be
// called at any time, as a policy reload does.
func (t *Tap) SetHeaders(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[http.CanonicalHeaderKey(n)] = true
	}
	t.headers.Store(&m)
}

// Watching reports how many subscriptions are open.
func (t *Tap) Watching() int { return int(t.watching.Load()) }

// Limits of a subscription.
const (
	// DefaultRate is the events per second a subscription gets when it
	// asks for none; MaxRate the most it may ask for.
	DefaultRate = 50
	MaxRate     = 500
	// bufferSize is how many events wait for a slow reader before more
	// are dropped.
	bufferSize = 256
)

// Subscription is one watcher's stream of events.
type Subscription struct {
	t       *Tap
	filter  Filter
	limit   *rate.Limiter
	events  chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe starts a stream of the events f matches, at most perSecond of
// them a second (0 means [DefaultRate]; more than [MaxRate] is cut to it).
// Close the subscription when done: until then every request pays for
// being watched.
func (t *Tap) Subscribe(f Filter, perSecond float64) *Subscription {
	if perSecond <= 0 {
		perSecond = DefaultRate
	}
	perSecond = min(perSecond, MaxRate)
	s := &Subscription{
		t: t, filter: f,
		limit:  rate.NewLimiter(rate.Limit(perSecond), max(int(perSecond), 1)),
		events: make(chan Event, bufferSize),
	}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	t.watching.Add(1)
	return s
}

// Events returns the stream. It is never closed: stop reading after Close.
func (s *Subscription) Events() <-chan Event { return s.events }

// Dropped returns how many matching events were dropped, past the rate or
// with the buffer full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.t.mu.Lock()
		delete(s.t.subs, s)
		s.t.mu.Unlock()
		s.t.watching.Add(-1)
	})
}

func (s *Subscription) offer(e *Event) {
	if !s.limit.Allow() {
		s.dropped.Add(1)
		return
	}
	select {
	case s.events <- *e:
	default:
		s.dropped.Add(1)
	}
}

// publish hands e to the subscriptions whose filters match it. complete,
// if not nil, fills in the fields no filter reads, once, when the first
// subscription matches: events nobody wants cost no string building.
func (t *Tap) publish(e *Event, complete func(*Event)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		if !s.filter.Match(e) {
			continue
		}
		if complete != nil {
			complete(e)
			complete = nil
		}
		s.offer(e)
	}
}

// wanted reports whether a subscription could match a request that
// starts as e, whatever its status.
func (t *Tap) wanted(e *Event) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		f := s.filter
		f.Status = ""
		if f.Match(e) {
			return true
		}
	}
	return false
}

// anyService stands for a caller not known yet when a filter on the
// service is tried at a request's start.
const anyService = "\x00any"

// record is what a watched request keeps between its start and its end.
type record struct {
	headers map[string]string
}

type recordKey struct{}

func (t *Tap) startRecord(ctx context.Context) (context.Context, *record) {
	r := &record{}
	return context.WithValue(ctx, recordKey{}, r), r
}

// copyHeaders copies c's headers into r, redacting values not allowed.
func (t *Tap) copyHeaders(r *record, c observe.Carrier) {
	if c == nil {
		return
	}
	allowed := *t.headers.Load()
	keys := c.Keys()
	r.headers = make(map[string]string, min(len(keys), maxHeaders))
	for _, k := range keys {
		if len(r.headers) == maxHeaders {
			break
		}
		name := http.CanonicalHeaderKey(k)
		v := Redacted
		if allowed[name] {
			v = truncate(c.Get(k), maxHeaderValue)
		}
		r.headers[strings.ToLower(name)] = v
	}
}

// StartCall implements [observe.CallObserver]: while someone watches
// calls like this one, it makes the call's record.
func (t *Tap) StartCall(ctx context.Context, c *observe.CallInfo) context.Context {
	if t.watching.Load() == 0 {
		return ctx
	}
	if !t.wanted(&Event{Direction: Outbound, Protocol: c.Protocol, Source: c.Source, Destination: c.Destination, Method: c.Method, Path: c.Path}) {
		return ctx
	}
	ctx, _ = t.startRecord(ctx)
	return ctx
}

// StartAttempt implements [observe.CallObserver]: the first attempt's
// headers are the call's.
func (t *Tap) StartAttempt(ctx context.Context, _ *observe.CallInfo, a *observe.AttemptInfo) context.Context {
	if a.N == 1 {
		if r, ok := ctx.Value(recordKey{}).(*record); ok {
			t.copyHeaders(r, a.Carrier)
		}
	}
	return ctx
}

// EndAttempt implements [observe.CallObserver]; it does nothing.
func (t *Tap) EndAttempt(context.Context, *observe.CallInfo, *observe.AttemptInfo) {}

// EndCall implements [observe.CallObserver]: it hands the call to the
// subscriptions that match it.
func (t *Tap) EndCall(ctx context.Context, c *observe.CallInfo) {
	if t.watching.Load() == 0 {
		return
	}
	e := Event{
		Direction: Outbound, Protocol: c.Protocol, Source: c.Source, Destination: c.Destination,
		Method: c.Method, Path: c.Path, Status: c.Status, Failed: stats.Failed(c.Protocol, c.Status, c.Err != nil),
	}
	t.publish(&e, func(e *Event) {
		e.Time, e.Peer, e.Path = c.Start, peerID(c.TLS), truncate(c.Path, maxPath)
		e.Route, e.Subset, e.Endpoint, e.Attempts = c.Route, c.Subset, c.Endpoint, c.Attempts
		e.DurationMs, e.TraceID, e.Reason = millis(c.End.Sub(c.Start)), c.TraceID.String(), reason(c)
		if c.Err != nil {
			e.Error = c.Err.Error()
		}
		if r, ok := ctx.Value(recordKey{}).(*record); ok {
			e.Headers = r.headers
		}
	})
}

// StartInbound implements [observe.InboundObserver]: while someone
// watches requests like this one, it keeps the request's headers. (The
// caller is not known yet: a filter on the service matches this node's.)
func (t *Tap) StartInbound(ctx context.Context, in *observe.InboundInfo) context.Context {
	if t.watching.Load() == 0 {
		return ctx
	}
	if !t.wanted(&Event{Direction: Inbound, Protocol: in.Protocol, Source: anyService, Destination: t.service, Method: in.Method, Path: in.Path}) {
		return ctx
	}
	ctx, r := t.startRecord(ctx)
	t.copyHeaders(r, in.Carrier)
	return ctx
}

// EndInbound implements [observe.InboundObserver]: it hands the request
// to the subscriptions that match it.
func (t *Tap) EndInbound(ctx context.Context, in *observe.InboundInfo) {
	if t.watching.Load() == 0 {
		return
	}
	e := Event{
		Direction: Inbound, Protocol: in.Protocol, Source: in.Source, Destination: t.service,
		Method: in.Method, Path: in.Path, Status: in.Status, Failed: stats.Failed(in.Protocol, in.Status, false),
	}
	t.publish(&e, func(e *Event) {
		e.Time, e.Peer, e.Path = in.Start, in.Peer, truncate(in.Path, maxPath)
		e.DurationMs, e.TraceID = millis(in.End.Sub(in.Start)), traceID(ctx)
		if r, ok := ctx.Value(recordKey{}).(*record); ok {
			e.Headers = r.headers
		}
	})
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peerID returns the SPIFFE ID a TLS peer proved, or "".
func peerID(cs *tls.ConnectionState) string {
	if id, ok := security.PeerID(cs); ok {
		return id.String()
	}
	return ""
}

// traceID returns the trace ID of ctx's span, or "".
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
