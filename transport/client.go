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
	meshHost := req.URL.Scheme == "http" && req.URL.Port() == ""
	// A bare name such as "payments" is a mesh service, known or not: it
	// never falls through to DNS and plaintext egress.
	if d == nil && meshHost && (host == c.Service || isServiceName(host)) {
		closeBody(req)
		_, err := pick(&destination{service: host}, nil, resilience.PickInfo{})
		return nil, err
	}
	if d == nil || !meshHost {
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

func pick(d *destination, picker resilience.Picker, info resilience.PickInfo) (*resilience.Endpoint, error) {
	if d.ready == 0 {
		why := "no member of the mesh hosts it"
		if d.unready > 0 {
			why = fmt.Sprintf("%d instance(s) known, none ready (starting or draining)", d.unready)
		}
		return nil, fmt.Errorf("transport: service %q: %w: %s", d.service, ErrNoEndpoint, why)
	}
	if picker == nil {
		return nil, fmt.Errorf("transport: service %q: %w: the route's subset has no ready endpoint", d.service, ErrNoEndpoint)
	}
	ep, err := picker.Pick(info)
	if err != nil {
		return nil, fmt.Errorf("transport: service %q: %w", d.service, err)
	}
	return ep, nil
}

// endOnClose ends the endpoint's in-flight count, the try's context and
// the call's timeout when the caller is done with the response body.
type endOnClose struct {
	io.ReadCloser
	ep         *resilience.Endpoint
	cancelTry  context.CancelFunc
	cancelCall context.CancelFunc
	obs        *CallInfo // nil without an observer
	done       atomic.Bool
}

// upgradedBody keeps the response body of a 101 Switching Protocols
// writable, as http.Transport returns it.
type upgradedBody struct {
	*endOnClose
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.w.Write(p) }

func (b *endOnClose) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.ep.End()
		b.cancelTry()
		b.cancelCall()
		b.obs.finish()
	}
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// isServiceName reports whether host is a single DNS label, as mesh
// service names are ("localhost" excepted).
func isServiceName(host string) bool {
	return host != "" && host != "localhost" && !strings.ContainsAny(host, ".:[")
}
