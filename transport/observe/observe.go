package observe

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// CallObserver is told about every client call to a mesh service and each
// of its attempts, HTTP requests and gRPC calls alike, so that tracing,
// metrics, access logs and the routing history can follow them. Package
// telemetry implements it; a node's client engine calls the one it is
// given.
//
// A call's methods are called in this order: StartCall once, then
// StartAttempt and EndAttempt for each attempt, then EndCall once. The
// attempts of a hedged call overlap: StartAttempt and EndAttempt may be
// called from several goroutines at once, and concurrently with each
// other for different attempts of one call. No method may block; each
// runs on the request's path.
//
// The info values belong to the caller: an observer may read them during
// the call and must not keep them after EndCall. While a call runs, an
// observer may read only the fields documented as set at start; the
// others are complete in EndCall.
type CallObserver interface {
	// StartCall is called once per call, after the route is matched and
	// before the first attempt. The context it returns is the parent of
	// every attempt's context and is handed back to EndCall; return ctx
	// itself to add nothing.
	StartCall(ctx context.Context, call *CallInfo) context.Context
	// StartAttempt is called before each attempt is sent, with the call's
	// context (or the attempt's own, with its per-try deadline). The
	// context it returns carries the attempt's request and is handed back
	// to EndAttempt. An observer that propagates trace context writes it
	// into attempt.Carrier, which is the attempt's own.
	StartAttempt(ctx context.Context, call *CallInfo, attempt *AttemptInfo) context.Context
	// EndAttempt is called once the attempt's response headers arrived
	// or it failed.
	EndAttempt(ctx context.Context, call *CallInfo, attempt *AttemptInfo)
	// EndCall is called once the call is over: when the caller closed the
	// response body, or when the call failed.
	EndCall(ctx context.Context, call *CallInfo)
}

// InboundObserver is told about every request a service's instance serves
// by its inbound side, HTTP middleware and gRPC interceptors alike.
// StartInbound and EndInbound are called once each per
// request, on the request's goroutine; they must not block. The info
// value belongs to the caller and must not be kept after EndInbound.
type InboundObserver interface {
	// StartInbound is called when a request arrives, before limits and
	// authorization. The context it returns becomes the request's context
	// (return ctx itself to add nothing); an observer that traces extracts
	// the caller's trace context from in.Carrier.
	StartInbound(ctx context.Context, in *InboundInfo) context.Context
	// EndInbound is called when the handler returned, or the request was
	// refused, with the context StartInbound returned.
	EndInbound(ctx context.Context, in *InboundInfo)
}

// Carrier holds the trace context that travels with a request: its HTTP
// headers, or its gRPC metadata. Its method set is OpenTelemetry's
// TextMapCarrier, so an observer can hand it to a propagator as it is.
type Carrier interface {
	// Get returns the first value of key, or "".
	Get(key string) string
	// Set replaces the values of key with value.
	Set(key, value string)
	// Keys lists the keys present.
	Keys() []string
}

// TraceSlot is room a server keeps in a request's state for the W3C
// trace context its caller sent, so that an observer can give the
// request's context that trace context without extracting it into a
// context and a span of their own: as the request's context when it
// follows a caller's decision not to record the trace, or as the parent
// of its server span.
type TraceSlot interface {
	// Parent returns a child of ctx, made in the request's state, that
	// carries the caller's trace context as OpenTelemetry's current span
	// (remote, not recording), when carrier holds a valid traceparent and
	// neither tracestate nor baggage. Otherwise it returns ctx and false.
	// It succeeds at most once.
	Parent(ctx context.Context, carrier Carrier) (context.Context, bool)
}

// TraceID is a W3C trace ID, as OpenTelemetry's trace.TraceID holds it.
type TraceID [16]byte

// String returns the ID in lowercase hex, or "" for the zero ID.
func (id TraceID) String() string {
	if id == (TraceID{}) {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// Protocols named in [CallInfo] and [InboundInfo].
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
)

// CallInfo describes one client call to a mesh service.
type CallInfo struct {
	// Set at start.

	// Protocol is ProtocolHTTP or ProtocolGRPC.
	Protocol string
	// Source is the calling service; Destination the service called.
	Source, Destination string
	// Method is the HTTP method, or the gRPC full method name
	// ("/pkg.Service/Method").
	Method string
	// Path is the HTTP request's path; "" for gRPC.
	Path string
	// Route is the name of the route that matched ("routes[i]" for an
	// unnamed one), or "" when none did.
	Route string
	// Start is when the call began.
	Start time.Time
	// TraceID is the call's trace ID, set by the StartCall of an observer
	// that records it, so that later observers can link to the trace;
	// zero when the call is not recorded.
	TraceID TraceID
	// Subset is the subset the route's split chose, or "" for every
	// endpoint. It is set before the first attempt starts.
	Subset string
	// Balancer is the load balancer that picks each attempt's endpoint
	// among the subset's ready ones ("least_request", ...).
	Balancer string

	// Complete in EndCall.

	// Attempts counts the attempts sent, hedges included; Hedges counts
	// those a hedge timer started.
	Attempts, Hedges int
	// BudgetExhausted reports that a retry or hedge was wanted but the
	// retry budget refused it.
	BudgetExhausted bool
	// Status is the final HTTP status (or gRPC code); 0 when the call
	// got no response.
	Status int
	// Err is why the call failed, nil when it got a response.
	Err error
	// Endpoint is the host:port the call ended on: its latest attempt
	// that a winning hedge did not cut short, which gave the final answer
	// or failed last; "" when no attempt was made.
	Endpoint string
	// TLS is the TLS state of the connection that gave the final answer,
	// nil in plaintext; the server's verified identity is in its
	// certificates.
	TLS *tls.ConnectionState
	// End is when the call ended.
	End time.Time

	tries  [inlineTries]TryRecord
	more   atomic.Pointer[[maxRecordedTries - inlineTries]TryRecord] // made for a third attempt
	ntries atomic.Int32
}

// maxRecordedTries bounds the attempts a call keeps a record of: more than
// the most a policy allows on the retry path (10), enough for the history.
// The first inlineTries live in the CallInfo itself: most calls make one.
const (
	maxRecordedTries = 10
	inlineTries      = 2
)

// TryRecord is the short story of one attempt, kept for the routing
// history.
type TryRecord struct {
	// Endpoint is the host:port the attempt went to.
	Endpoint string `json:"endpoint"`
	// Hedge reports that a hedge timer started the attempt.
	Hedge bool `json:"hedge,omitempty"`
	// Status is the response's status, 0 without one.
	Status int `json:"status,omitempty"`
	// Outcome is as in [AttemptInfo].
	Outcome string `json:"outcome"`
	// DurationMs is how long the attempt took to its response headers.
	DurationMs float64 `json:"durationMs"`
}

// Tries returns the records of the call's attempts in the order they
// ended. The slice is valid until EndCall returns.
func (c *CallInfo) Tries() []TryRecord {
	n := min(int(c.ntries.Load()), maxRecordedTries)
	if n <= inlineTries {
		return c.tries[:n]
	}
	out := make([]TryRecord, n)
	copy(out, c.tries[:])
	if more := c.more.Load(); more != nil {
		copy(out[inlineTries:], more[:n-inlineTries])
	}
	return out
}

// RecordAttempt keeps the short story of an attempt that ended, for
// [CallInfo.Tries] and the routing history. The code that runs a call
// calls it once per attempt, before EndAttempt; the client engine does so
// for every protocol. Attempts that end concurrently may record concurrently.
func (c *CallInfo) RecordAttempt(a *AttemptInfo) {
	i := int(c.ntries.Add(1)) - 1
	if i >= maxRecordedTries {
		return
	}
	r := TryRecord{Endpoint: a.Endpoint, Hedge: a.Hedge, Status: a.Status, Outcome: a.Outcome, DurationMs: millis(a.End.Sub(a.Start))}
	if i < inlineTries {
		c.tries[i] = r
		return
	}
	more := c.more.Load()
	if more == nil {
		more = new([maxRecordedTries - inlineTries]TryRecord)
		if !c.more.CompareAndSwap(nil, more) {
			more = c.more.Load()
		}
	}
	more[i-inlineTries] = r
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// AttemptInfo describes one attempt of a call.
type AttemptInfo struct {
	// Set at start.

	// N numbers the call's attempts from 1, in the order they started.
	N int
	// Hedge reports that a hedge timer started the attempt.
	Hedge bool
	// Endpoint is the host:port the attempt goes to, Node the member
	// serving it.
	Endpoint, Node string
	// Start is when the attempt began.
	Start time.Time
	// Carrier is where StartAttempt writes the trace context the attempt
	// sends. It is the attempt's own: writing to it does not touch the
	// caller's request or the call's other attempts.
	Carrier Carrier

	// Complete in EndAttempt.

	// Status is the response's HTTP status (or gRPC code); 0 without one.
	Status int
	// Outcome is how the attempt ended: "ok", "error" (a response the
	// retry policy counts as failed: 5xx, 429), "connect-failure",
	// "reset", "timeout" or "cancelled" (the call or a winning hedge
	// ended it).
	Outcome string
	// Err is the attempt's transport error, nil when it got a response.
	Err error
	// TLS is the connection's TLS state, nil in plaintext or without a
	// response; the server's verified identity is in its certificates.
	TLS *tls.ConnectionState
	// BreakerOpened and BreakerClosed report that this attempt's outcome
	// opened or closed the endpoint's circuit breaker; Ejected that it
	// made outlier detection eject the endpoint.
	BreakerOpened, BreakerClosed, Ejected bool
	// End is when the attempt ended.
	End time.Time
}

// InboundInfo describes one request served by a node.
type InboundInfo struct {
	// Set at start.

	// Protocol is ProtocolHTTP or ProtocolGRPC.
	Protocol string
	// Method is the HTTP method, or the gRPC full method name.
	Method string
	// Path is the HTTP request's path; "" for gRPC.
	Path string
	// Start is when the request arrived.
	Start time.Time
	// Carrier holds the request's headers (or metadata), to extract the
	// caller's trace context from. Read it only in StartInbound.
	Carrier Carrier
	// Trace, when not nil, is room in the request's own state for the
	// trace context of a caller that sampled the trace out. Use it only
	// in StartInbound.
	Trace TraceSlot

	// Complete in EndInbound.

	// Source is the calling service: the name its verified identity
	// maps to, else what its Weft client asserted in its Weft-Source header, else "".
	Source string
	// Peer is the SPIFFE ID the caller proved with a certificate the node
	// verified, "" when it proved none.
	Peer string
	// TLS is the connection's TLS state, nil in plaintext.
	TLS *tls.ConnectionState
	// Status is the HTTP status sent (200 when the handler wrote
	// nothing), or the gRPC code.
	Status int
	// Claims are the end-user claims the service's policy names for the
	// access log (jwt.logClaims), from the request's verified token; nil
	// without. They are shared: do not modify them.
	Claims []slog.Attr
	// End is when the handler returned.
	End time.Time
}

// HeaderCarrier adapts HTTP headers to [Carrier].
type HeaderCarrier http.Header

// Get returns the first value of key.
func (h HeaderCarrier) Get(key string) string {
	if v := h[CanonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (h HeaderCarrier) Set(key, value string) { h[CanonicalKey(key)] = []string{value} }

// CanonicalKey returns the canonical form of an HTTP header name, as
// http.CanonicalHeaderKey does, without the allocation that makes for the
// lower-case names trace propagators use (traceparent, tracestate,
// baggage).
func CanonicalKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

// Keys lists the header names present.
func (h HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// Observers combines observers into one that calls each in turn, each
// seeing the context the previous one returned; nil entries are skipped.
// It returns nil when none is left, so that an engine given the result
// costs nothing when nobody observes.
func Observers(list ...CallObserver) CallObserver {
	out := nonNil(list)
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return multiObserver(out)
}

type multiObserver []CallObserver

func (m multiObserver) StartCall(ctx context.Context, c *CallInfo) context.Context {
	for _, o := range m {
		ctx = o.StartCall(ctx, c)
	}
	return ctx
}

func (m multiObserver) StartAttempt(ctx context.Context, c *CallInfo, a *AttemptInfo) context.Context {
	for _, o := range m {
		ctx = o.StartAttempt(ctx, c, a)
	}
	return ctx
}

// EndAttempt and EndCall run in reverse order, so that the observer that
// started first (and opened the outermost span) ends last.
func (m multiObserver) EndAttempt(ctx context.Context, c *CallInfo, a *AttemptInfo) {
	for i := len(m) - 1; i >= 0; i-- {
		m[i].EndAttempt(ctx, c, a)
	}
}

func (m multiObserver) EndCall(ctx context.Context, c *CallInfo) {
	for i := len(m) - 1; i >= 0; i-- {
		m[i].EndCall(ctx, c)
	}
}

// InboundObservers combines inbound observers into one that calls each in
// turn, each seeing the context the previous one returned; nil entries
// are skipped. EndInbound runs in reverse order. It returns nil when none
// is left, so that an [Inbound] given the result costs nothing when
// nobody observes.
func InboundObservers(list ...InboundObserver) InboundObserver {
	out := nonNil(list)
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return multiInbound(out)
}

// nonNil returns the entries of list that are not nil.
func nonNil[T comparable](list []T) []T {
	var zero T
	var out []T
	for _, o := range list {
		if o != zero {
			out = append(out, o)
		}
	}
	return out
}

type multiInbound []InboundObserver

func (m multiInbound) StartInbound(ctx context.Context, in *InboundInfo) context.Context {
	for _, o := range m {
		ctx = o.StartInbound(ctx, in)
	}
	return ctx
}

func (m multiInbound) EndInbound(ctx context.Context, in *InboundInfo) {
	for i := len(m) - 1; i >= 0; i-- {
		m[i].EndInbound(ctx, in)
	}
}
