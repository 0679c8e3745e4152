package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport/observe"
)

// maxReplayBody is the largest request body buffered so that it can be
// sent again; a larger body is sent once (or again only after a connection
// failure, when none of it was read).
const maxReplayBody = 64 << 10

// mirrorTimeout bounds one mirrored request.
const mirrorTimeout = 10 * time.Second

// httpCall is one HTTP request to a mesh service: the engine's call and
// what its attempts send. It is the engine's [engine.Attempter] for HTTP.
// A call that makes one attempt allocates nothing else of Weft's own: the
// engine's call and first attempt, the request sent, its URL, its headers'
// values and the response body's wrapper all live here.
type httpCall struct {
	call  engine.Call
	c     *Clients
	conns *conns
	req   *http.Request // the caller's request, never modified
	out   http.Request  // the request the attempts send, but for its URL's host
	body  *requestBody

	url     url.URL       // the first attempt's URL
	carrier attemptHeader // the first attempt's trace context carrier
	values  [inlineValues]string
	resp    endOnClose // the answer's body
}

// inlineValues is how many header values a call keeps within itself: the
// caller's, the mesh's and the trace context of a request with few
// headers, the common case, which then needs no allocation for them.
const inlineValues = 8

// spareValues is the room a call's headers keep for the trace context an
// observer writes on the first attempt (traceparent, tracestate, baggage).
const spareValues = 3

// send delivers req to d through the engine: the matched route's split,
// faults and mirror, the destination's retries or hedges, breakers and
// outlier detection.
func (c *Clients) send(d *engine.Destination, req *http.Request) (*http.Response, error) {
	noRetry := retry.NoRetry(req.Context())
	r := engine.Request{
		Protocol: engine.HTTP, Method: req.Method, Header: req.Header,
		Name: req.Method, Path: req.URL.Path,
		Route: d.Routes().Match(req), NoRetry: noRetry,
	}
	if d.Hashing() {
		r.Hash, r.HasHash = hashKey(req, d.Config().HashKey)
	}
	h := &httpCall{c: c, req: req}
	call := &h.call
	ctx := d.BeginCall(call, req.Context(), r)
	ctx = call.WithDeadline(ctx)
	abort, err := call.Fault(ctx)
	if err != nil || abort != 0 {
		call.EndDeadline()
		closeBody(req)
		call.End(abort, err)
		if err != nil {
			return nil, err
		}
		return faultResponse(req, abort), nil
	}
	h.conns = c.connsFor(d)
	h.outgoing(ctx, noRetry)
	mirror := call.MirrorSubset()
	// A body is buffered only when it may be sent again after it was read:
	// a retry of a repeatable request, a hedge, a mirror copy. A
	// connection failure happens before any of it is read, so a streamed
	// body serves that retry.
	replay := call.Retries() && call.Repeatable() || call.Hedged() || mirror != ""
	if h.body, err = newReplayBody(req, replay); err != nil {
		call.EndDeadline()
		err = fmt.Errorf("transport: %s: reading the request body: %w", d.Service, err)
		call.End(0, err)
		return nil, err
	}
	if mirror != "" && h.body.replayable() {
		h.mirror(d, mirror, r)
	}
	t, res := engine.Run(ctx, ctx, call, h, d.Pickers(engine.HTTP), h.body.replayable())
	return h.finish(t, res)
}

// outgoing makes the request the attempts send: a shallow copy of the
// caller's with headers of its own, which carry the mesh's. noRetry
// reports that a caller further up owns the retries.
func (h *httpCall) outgoing(ctx context.Context, noRetry bool) {
	h.out = *h.req.WithContext(ctx) // inlined: the copy is made in place
	if h.out.Host == "" {
		h.out.Host = h.req.URL.Host
	}
	src := h.c.engine.Source()
	owner := h.call.Retries() || noRetry
	// One map and one array of values, sized for the caller's headers, the
	// mesh's and the trace context, hold what Header.Clone and three Sets
	// would allocate piece by piece.
	n := spareValues + 3
	for _, v := range h.req.Header {
		n += len(v)
	}
	vals := h.values[:]
	if n > len(vals) {
		vals = make([]string, n)
	}
	hdr := make(http.Header, len(h.req.Header)+3+spareValues)
	for k, v := range h.req.Header {
		m := copy(vals, v)
		hdr[k], vals = vals[:m:m], vals[m:]
	}
	set := func(key, value string) {
		vals[0] = value
		hdr[key], vals = vals[:1:1], vals[1:]
	}
	if src != "" {
		set(engine.SourceHeader, src)
	}
	set(retry.TimeoutHeader, timeoutValue(&h.call))
	if owner {
		// Downstream Weft servers see that this call is retried here, so
		// their own clients do not retry too.
		set(retry.OwnerHeader, "1")
	}
	h.out.Header = hdr
	h.carrier.spare = vals
}

// Attempt implements [engine.Attempter]: it sends one attempt to the
// endpoint the engine picked.
func (h *httpCall) Attempt(ctx context.Context, t *engine.Try) engine.Result[*http.Response] {
	pk := t.Picked()
	ep := pk.Endpoint
	// The first attempt of a call whose attempts never overlap sends the
	// call's own request, with its URL and headers; later ones copy it
	// (its fields other than the context, URL and body are the same for
	// every attempt).
	first := t.N() == 1 && !t.Concurrent()
	o, u, carrier := &h.out, &h.url, &h.carrier
	if !first {
		o, u, carrier = new(http.Request), new(url.URL), new(attemptHeader)
	}
	actx := ctx
	if h.call.Observed() {
		carrier.shared, carrier.direct = h.out.Header, first
		actx = t.Observe(ctx, ep, carrier)
	}
	if o != &h.out || actx != h.out.Context() {
		*o = *h.out.WithContext(actx) // inlined: the copy is made in place
	}
	if carrier.own != nil {
		o.Header = carrier.own
	}
	*u = *h.out.URL
	u.Host = ep.Addr
	u.Scheme = h.conns.scheme
	o.URL = u
	if h.body != nil {
		o.Body = h.body.forTry()
	}
	resp, err := h.conns.roundTrip(o)
	var v engine.Verdict
	switch {
	case err == nil:
		v.Outcome.Status = resp.StatusCode
	case isConnectError(err):
		v.Outcome.Failure, v.Unreachable = retry.ConnectFailure, true
		if errors.Is(err, security.ErrWrongPeer) {
			h.c.logger().Warn("weft: endpoint refused: it does not prove the identity of the service; its catalog entry is stale or forged", "service", h.call.Destination().Service, "addr", ep.Addr, "err", err)
		}
	case t.Abandoned():
		v.Outcome.Failure, v.Abandoned = retry.Reset, true
	case t.TimedOut():
		v.Outcome.Failure = retry.Timeout
	default:
		v.Outcome.Failure = retry.Reset
	}
	end := pk.Done(v)
	res := engine.Result[*http.Response]{Value: resp, Outcome: v.Outcome, RetryAfter: retryAfter(resp)}
	f := engine.Finish{Outcome: v.Outcome, Abandoned: v.Abandoned, Err: err, End: end}
	if err != nil {
		pk.End()
		res.Err = fmt.Errorf("transport: %s via %s: %w", h.call.Destination().Service, ep.Addr, err)
	} else {
		f.Status, f.TLS = resp.StatusCode, resp.TLS
	}
	t.Finish(actx, f)
	return res
}

// Discard implements [engine.Attempter]: it throws away the answer of an
// attempt that is not the call's.
func (h *httpCall) Discard(t *engine.Try, res engine.Result[*http.Response]) {
	if res.Value != nil {
		io.Copy(io.Discard, io.LimitReader(res.Value.Body, 4<<10))
		res.Value.Body.Close()
	}
	if res.Err == nil {
		t.Picked().End()
	}
}

// Rewind implements [engine.Attempter].
func (h *httpCall) Rewind() bool { return h.body.rewind() }

// finish hands the call's answer to the caller. A response's endpoint,
// attempt and call end when the caller closes its body.
func (h *httpCall) finish(t *engine.Try, res engine.Result[*http.Response]) (*http.Response, error) {
	if res.Err != nil {
		h.body.abandon()
		if t != nil {
			t.Release()
		}
		h.call.EndDeadline()
		h.call.End(0, res.Err)
		return nil, res.Err
	}
	h.body.release()
	resp := res.Value
	body := &h.resp
	body.ReadCloser, body.try, body.call, body.status = resp.Body, t, &h.call, resp.StatusCode
	resp.Body = body
	if w, ok := body.ReadCloser.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket and the like) is written to
		// through the body, as net/http documents.
		resp.Body = &upgradedBody{endOnClose: body, w: w}
	}
	return resp, nil
}

// mirror sends a copy of the request to an endpoint of subset and
// discards the answer. It never blocks the call: when too many copies are
// in flight, this one is dropped. A copy is not retried, observed or
// counted by breakers.
func (h *httpCall) mirror(d *engine.Destination, subset string, r engine.Request) {
	ep, err := d.Pickers(engine.HTTP).Pick(subset, resilience.PickInfo{Hash: r.Hash, HasHash: r.HasHash})
	if err != nil {
		return
	}
	ctx, done, ok := h.call.StartMirror(h.req.Context(), mirrorTimeout)
	if !ok {
		return
	}
	out := h.out.Clone(ctx)
	out.URL.Host = ep.Addr
	out.URL.Scheme = h.conns.scheme // a copy is as secret as the request
	out.Header.Set("Weft-Mirror", "1")
	if h.body != nil {
		out.Body = h.body.forTry()
	}
	conns := h.conns
	go func() {
		defer done()
		resp, err := conns.roundTrip(out)
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
}

// endOnClose ends the endpoint's request in flight, the attempt's
// context, the call's deadline and the call when the caller is done with
// the response body.
type endOnClose struct {
	io.ReadCloser
	try    *engine.Try
	call   *engine.Call
	status int
	done   atomic.Bool
}

func (b *endOnClose) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.try.Picked().End()
		b.try.Release()
		b.call.EndDeadline()
		b.call.End(b.status, nil)
	}
	return err
}

// upgradedBody keeps the response body of a 101 Switching Protocols
// writable, as http.Transport returns it.
type upgradedBody struct {
	*endOnClose
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// attemptHeader is an attempt's trace-context carrier. The first attempt
// of a call whose attempts never overlap writes into the call's own
// headers (direct), using the room kept for it; any other attempt reads
// the call's headers and copies them on its first write, so that the
// attempts' trace contexts stay apart.
type attemptHeader struct {
	shared http.Header
	direct bool
	spare  []string    // unused values of the call's array, for direct writes
	own    http.Header // nil until written, when not direct
	parent tracectx.Text
}

// SetParent implements [tracectx.Writer]: the traceparent's value lives in
// the carrier.
func (h *attemptHeader) SetParent(p tracectx.Parent) {
	h.Set(tracectx.ParentHeader, h.parent.Format(p))
}

func (h *attemptHeader) current() http.Header {
	if h.own != nil {
		return h.own
	}
	return h.shared
}

func (h *attemptHeader) Get(key string) string { return observe.HeaderCarrier(h.current()).Get(key) }

func (h *attemptHeader) Set(key, value string) {
	key = observe.CanonicalKey(key)
	if h.direct {
		if len(h.spare) > 0 {
			h.spare[0] = value
			h.shared[key], h.spare = h.spare[:1:1], h.spare[1:]
			return
		}
		h.shared[key] = []string{value}
		return
	}
	if h.own == nil {
		h.own = h.shared.Clone()
	}
	h.own[key] = []string{value}
}

func (h *attemptHeader) Keys() []string {
	cur := h.current()
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	return keys
}

// timeoutValue returns the Weft-Timeout value of call: the time it had
// left when it started. A call's own timeout is one of the few a policy
// names, whose encodings are kept; a caller's earlier deadline is
// encoded afresh.
func timeoutValue(call *engine.Call) string {
	if !call.OwnTimeout() {
		return retry.EncodeTimeout(call.Remaining())
	}
	d := call.Timeout()
	if v, ok := (*timeoutValues.Load())[d]; ok {
		return v
	}
	v := retry.EncodeTimeout(d)
	for {
		old := timeoutValues.Load()
		if len(*old) >= maxTimeoutValues {
			return v
		}
		next := maps.Clone(*old)
		next[d] = v
		if timeoutValues.CompareAndSwap(old, &next) {
			return v
		}
	}
}

// timeoutValues keeps the encodings of the timeouts calls were made with,
// replaced (never changed) when one is added.
var timeoutValues atomic.Pointer[map[time.Duration]string]

// maxTimeoutValues bounds timeoutValues: policies name a handful of
// timeouts; beyond this many, values are encoded per call.
const maxTimeoutValues = 64

func init() { timeoutValues.Store(&map[time.Duration]string{}) }

func retryAfter(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get("Retry-After")
}

// hashKey hashes the request's header or cookie that key names.
func hashKey(req *http.Request, key resilience.HashKey) (uint64, bool) {
	var v string
	switch {
	case key.Header != "":
		v = req.Header.Get(key.Header)
	case key.Cookie != "":
		if c, err := req.Cookie(key.Cookie); err == nil {
			v = c.Value
		}
	}
	if v == "" {
		return 0, false
	}
	return ringhash.Key(v), true
}

// faultResponse is the answer to a request aborted by fault injection.
func faultResponse(req *http.Request, status int) *http.Response {
	body := "fault injected by the Weft policy\n"
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Weft-Fault": {"abort"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
