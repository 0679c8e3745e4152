package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/resilience"
)

var (
	// ErrNoEndpoint is returned (wrapped, with the service's name and the
	// reason) when a mesh service has no endpoint that can take a request.
	ErrNoEndpoint = errors.New("no endpoint available")
	// ErrEgressDenied is returned when a request to a host outside the mesh
	// is not on the policy's egress allow-list.
	ErrEgressDenied = errors.New("egress to this host is not allowed by the policy")
)

// markDownFor is how long an endpoint that refused a connection is kept out
// of picking, unless the catalog removes it first or it is the only one.
const markDownFor = 5 * time.Second

// Client is the [http.RoundTripper] of a mesh client bound to one
// destination service.
//
// A request whose host is Service, or any other service the router knows,
// goes to an endpoint of that service; the scheme must be http (the mesh
// secures the connection itself). Any other host is egress: it is sent
// through the router's egress transport if the policy allows it.
type Client struct {
	// Router supplies the route table. Required.
	Router *Router
	// Service is the destination the client is made for: requests to it
	// fail with ErrNoEndpoint while it has no endpoint, rather than being
	// treated as egress.
	Service string
	// Egress, if not nil, replaces the router's egress transport.
	Egress http.RoundTripper
}

// RoundTrip implements [http.RoundTripper].
func (c Client) RoundTrip(req *http.Request) (*http.Response, error) {
	t := c.Router.table.Load()
	host := req.URL.Hostname()
	d := t.dests[host]
	if d == nil && host == c.Service {
		d = &destination{service: host, cfg: t.fallback}
	}
	if d == nil || req.URL.Scheme != "http" || req.URL.Port() != "" {
		return c.egress(t, req, host)
	}
	return c.Router.send(d, req)
}

func (c Client) egress(t *routeTable, req *http.Request, host string) (*http.Response, error) {
	if !t.egress.allows(host) {
		closeBody(req)
		return nil, fmt.Errorf("transport: %s: %w (add it to egress.allow)", host, ErrEgressDenied)
	}
	if c.Egress != nil {
		return c.Egress.RoundTrip(req)
	}
	return c.Router.egress.RoundTrip(req)
}

// send delivers req to one endpoint of d, retrying once on another
// endpoint when the first connection could not be made.
func (r *Router) send(d *destination, req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), d.cfg.Timeout)
	// A shallow copy: the transport only reads the request, and only the
	// URL's host changes per attempt.
	out := req.WithContext(ctx)
	u := *req.URL
	out.URL = &u
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	body := newReplayBody(req)
	if body != nil {
		out.Body = body
	}

	var avoid *resilience.Endpoint
	for attempt := 0; ; attempt++ {
		ep, err := pick(d, avoid)
		if err != nil {
			body.abandon()
			cancel()
			return nil, err
		}
		out.URL.Host = ep.Addr
		ep.Begin()
		resp, err := r.base.RoundTrip(out)
		if err == nil {
			ep.MarkUp()
			resp.Body = &endOnClose{ReadCloser: resp.Body, ep: ep, cancel: cancel}
			body.release()
			return resp, nil
		}
		ep.End()
		if !isConnectError(err) {
			body.abandon()
			cancel()
			return nil, fmt.Errorf("transport: %s via %s: %w", d.service, ep.Addr, err)
		}
		ep.MarkDown(time.Now().Add(markDownFor))
		r.logger.Debug("weft: endpoint refused connection", "service", d.service, "addr", ep.Addr, "err", err)
		if attempt > 0 || !body.rewind() || ctx.Err() != nil {
			body.abandon()
			cancel()
			return nil, fmt.Errorf("transport: %s via %s: %w", d.service, ep.Addr, err)
		}
		avoid = ep
	}
}

func pick(d *destination, avoid *resilience.Endpoint) (*resilience.Endpoint, error) {
	if d.picker == nil || d.ready == 0 {
		why := "no member of the mesh hosts it"
		if d.unready > 0 {
			why = fmt.Sprintf("%d instance(s) known, none ready (starting or draining)", d.unready)
		}
		return nil, fmt.Errorf("transport: service %q: %w: %s", d.service, ErrNoEndpoint, why)
	}
	ep, err := d.picker.Pick(resilience.PickInfo{Avoid: avoid})
	if err != nil {
		return nil, fmt.Errorf("transport: service %q: %w", d.service, err)
	}
	return ep, nil
}

// endOnClose ends the endpoint's in-flight count and the call's timeout
// when the caller is done with the response body.
type endOnClose struct {
	io.ReadCloser
	ep     *resilience.Endpoint
	cancel context.CancelFunc
	done   atomic.Bool
}

func (b *endOnClose) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.ep.End()
		b.cancel()
	}
	return err
}

// replayBody lets a request body be sent again after a connection failure.
// A connection failure happens before the transport reads the body, so the
// body is replayable as long as nothing was read from it; when the request
// offers GetBody, that is used instead.
//
// The transport closes a request body when it has finished with it, which
// for a successful attempt may happen on its writer goroutine after
// RoundTrip returned. Until [replayBody.release], Close is deferred so that
// the body survives to the next attempt.
type replayBody struct {
	req *http.Request

	mu       sync.Mutex
	rc       io.ReadCloser
	read     bool
	released bool // Close now closes rc
	closed   bool // Close was called
}

func newReplayBody(req *http.Request) *replayBody {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	return &replayBody{req: req, rc: req.Body}
}

func (b *replayBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.read = true
	rc := b.rc
	b.mu.Unlock()
	return rc.Read(p)
}

func (b *replayBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.released {
		return b.rc.Close()
	}
	return nil
}

// rewind prepares the body for another attempt, reporting whether it can.
func (b *replayBody) rewind() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.read {
		b.closed = false
		return true
	}
	if b.req.GetBody == nil {
		return false
	}
	rc, err := b.req.GetBody()
	if err != nil {
		return false
	}
	b.rc.Close()
	b.rc, b.read, b.closed = rc, false, false
	return true
}

// release hands the body to the transport for good: it is closed now if
// the transport is already done with it, or when the transport closes it.
func (b *replayBody) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	if b.closed {
		b.rc.Close()
	}
}

// abandon closes the body when the call fails: nothing will send it again.
func (b *replayBody) abandon() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	b.rc.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
