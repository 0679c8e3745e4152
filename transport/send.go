package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/security"
)

// maxReplayBody is the largest request body buffered so that it can be
// sent again; a larger body is sent once (or again only after a connection
// failure, when none of it was read).
const maxReplayBody = 64 << 10

// mirrorTimeout bounds one mirrored request.
const mirrorTimeout = 10 * time.Second

// httpCall is one HTTP request to a mesh service: the engine's call and
// what its attempts send. It is the engine's [engine.Attempter] for HTTP,
// and, once the call is answered, the response body it hands the caller
// (one allocation for both).
type httpCall struct {
	c      *Clients
	call   *engine.Call
	conns  *conns
	req    *http.Request // the caller's request, never modified
	out    *http.Request // the copy sent, its URL host set per attempt
	body   *requestBody
	cancel context.CancelFunc // ends the call's deadline

	// The answer's body, whose Close ends the endpoint's request in
	// flight, the attempt, the call's deadline and the call.
	io.ReadCloser
	try    *engine.Try
	status int
	closed atomic.Bool
}

// send delivers req to d through the engine: the matched route's split,
// faults and mirror, the destination's retries or hedges, breakers and
// outlier detection.
func (c *Clients) send(d *engine.Destination, req *http.Request) (*http.Response, error) {
	r := engine.Request{
		Protocol: engine.HTTP, Method: req.Method, Header: req.Header,
		Name: req.Method, Path: req.URL.Path,
		Route: d.Routes().Match(req), NoRetry: retry.NoRetry(req.Context()),
	}
	if d.Hashing() {
		r.Hash, r.HasHash = hashKey(req, d.Config().HashKey)
	}
	call, ctx := d.Begin(req.Context(), r)
	ctx, cancel := call.WithDeadline(ctx)
	abort, err := call.Fault(ctx)
	if err != nil || abort != 0 {
		cancel()
		closeBody(req)
		call.End(abort, err)
		if err != nil {
			return nil, err
		}
		return faultResponse(req, abort), nil
	}
	h := &httpCall{c: c, call: call, conns: c.connsFor(d), req: req, cancel: cancel}
	h.out = h.outgoing(ctx)
	mirror := call.MirrorSubset()
	// A body is buffered only when it may be sent again after it was read:
	// a retry of a repeatable request, a hedge, a mirror copy. A
	// connection failure happens before any of it is read, so a streamed
	// body serves that retry.
	replay := call.Retries() && call.Repeatable() || call.Hedged() || mirror != ""
	if h.body, err = newReplayBody(req, replay); err != nil {
		cancel()
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

// outgoing returns the request the attempts send: a shallow copy of the
// caller's with its own headers, which carry the mesh's.
func (h *httpCall) outgoing(ctx context.Context) *http.Request {
	out := h.req.WithContext(ctx)
	if out.Host == "" {
		out.Host = h.req.URL.Host
	}
	out.Header = h.req.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	if src := h.c.engine.Source(); src != "" {
		out.Header.Set(engine.SourceHeader, src)
	}
	if deadline, ok := ctx.Deadline(); ok {
		out.Header.Set(retry.TimeoutHeader, retry.EncodeTimeout(time.Until(deadline)))
	}
	if h.call.Retries() || retry.NoRetry(h.req.Context()) {
		// Downstream Weft servers see that this call is retried here, so
		// their own clients do not retry too.
		out.Header.Set(retry.OwnerHeader, "1")
	}
	return out
}

// Attempt implements [engine.Attempter]: it sends one attempt to the
// endpoint the engine picked.
func (h *httpCall) Attempt(ctx context.Context, t *engine.Try) engine.Result[*http.Response] {
	pk := t.Picked()
	ep := pk.Endpoint
	o := h.out.WithContext(ctx)
	actx := ctx
	if h.call.Observed() {
		carrier := &attemptHeader{shared: h.out.Header}
		actx = t.Observe(ctx, ep, carrier)
		o = o.WithContext(actx)
		if carrier.own != nil {
			o.Header = carrier.own
		}
	}
	u := *h.out.URL
	u.Host = ep.Addr
	u.Scheme = h.conns.scheme
	o.URL = &u
	if h.body != nil {
		o.Body = h.body.forTry()
	}
	resp, err := h.conns.roundTrip(h.c, o)
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
	pk.Done(v)
	res := engine.Result[*http.Response]{Value: resp, Outcome: v.Outcome, RetryAfter: retryAfter(resp)}
	f := engine.Finish{Outcome: v.Outcome, Abandoned: v.Abandoned, Err: err}
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
		h.cancel()
		h.call.End(0, res.Err)
		return nil, res.Err
	}
	h.body.release()
	resp := res.Value
	h.ReadCloser, h.try, h.status = resp.Body, t, resp.StatusCode
	resp.Body = h
	if w, ok := h.ReadCloser.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket and the like) is written to
		// through the body, as net/http documents.
		resp.Body = &upgradedBody{httpCall: h, w: w}
	}
	return resp, nil
}

// Close closes the answer's body and ends the call, once.
func (h *httpCall) Close() error {
	err := h.ReadCloser.Close()
	if h.closed.CompareAndSwap(false, true) {
		h.try.Picked().End()
		h.try.Release()
		h.cancel()
		h.call.End(h.status, nil)
	}
	return err
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
		resp, err := conns.roundTrip(h.c, out)
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
}

// upgradedBody keeps the response body of a 101 Switching Protocols
// writable, as http.Transport returns it.
type upgradedBody struct {
	*httpCall
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// attemptHeader is an attempt's trace-context carrier: it reads the call's
// shared headers and copies them on the first write, so that an attempt
// that carries nothing of its own costs nothing.
type attemptHeader struct {
	shared http.Header
	own    http.Header // nil until written
}

func (h *attemptHeader) current() http.Header {
	if h.own != nil {
		return h.own
	}
	return h.shared
}

func (h *attemptHeader) Get(key string) string { return h.current().Get(key) }

func (h *attemptHeader) Set(key, value string) {
	if h.own == nil {
		h.own = h.shared.Clone()
	}
	h.own.Set(key, value)
}

func (h *attemptHeader) Keys() []string {
	cur := h.current()
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	return keys
}

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
