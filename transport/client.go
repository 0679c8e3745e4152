package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/transport/observe"
)

// ErrEgressDenied is returned when a request to a host outside the mesh
// is not on the policy's egress allow-list.
var ErrEgressDenied = errors.New("egress to this host is not allowed by the policy")

// Config configures [NewClients].
type Config struct {
	// Engine runs the calls: it holds every destination's routes,
	// endpoints, breakers and retry budget, shared with the node's gRPC
	// channels. Required.
	Engine *engine.Engine
	// Base sends requests to plaintext mesh endpoints in HTTP/1.1. If
	// nil, the clients' own: Weft's HTTP/1.1 transport, which sends a
	// request from the caller's goroutine on a kept-alive connection,
	// over an *http.Transport tuned for many keep-alive connections per
	// host for upgrades and streamed bodies. Destinations whose policy
	// asks for HTTP/2 are reached in plaintext through a transport of the
	// clients' own.
	Base http.RoundTripper
	// Egress sends requests to hosts outside the mesh. If nil, a clone of
	// http.DefaultTransport made when the clients are created.
	Egress http.RoundTripper
}

// Clients is the HTTP side of a node's clients: it makes the
// [http.RoundTripper] of every http.Client the node hands out, and owns
// the connections they share. A request to http://<service>/ becomes a
// call of the engine, whose attempts Clients sends; any other host is
// egress.
//
// All methods are safe for concurrent use.
type Clients struct {
	engine       *engine.Engine
	base, egress http.RoundTripper
	plain, h2c   *conns // plaintext HTTP/1.1 and HTTP/2, shared by destinations
	closeIdle    []func()
	egressPolicy atomic.Pointer[egressPolicy]
	pools        atomic.Pointer[map[string]*conns] // TLS pools by service; never modified once stored

	mu      sync.Mutex   // serializes pool changes; guards retired
	retired []idleCloser // replaced pools, whose busy connections go idle later
}

// NewClients returns the HTTP clients of the node cfg.Engine serves, with
// any egress host allowed until [Clients.SetEgress] says otherwise.
func NewClients(cfg Config) *Clients {
	c := &Clients{engine: cfg.Engine, base: cfg.Base, egress: cfg.Egress}
	plain := c.base // HTTP/1.1 in plaintext
	if c.base == nil {
		t := newMeshTransport()
		direct := newPlainH1(t)
		c.base, plain = t, direct
		c.closeIdle = append(c.closeIdle, direct.CloseIdleConnections)
	}
	if c.egress == nil {
		t := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			t = dt.Clone() // the user's settings, if they changed the default
		}
		c.egress = t
		c.closeIdle = append(c.closeIdle, t.CloseIdleConnections)
	}
	h2c := newH2CTransport()
	c.closeIdle = append(c.closeIdle, h2c.CloseIdleConnections)
	c.plain = &conns{protocol: engine.HTTP1, rt: plain, h1: c.base, scheme: "http"}
	c.h2c = &conns{protocol: engine.HTTP2, rt: h2c, h1: c.base, scheme: "http"}
	c.egressPolicy.Store(&egressPolicy{any: true})
	c.pools.Store(&map[string]*conns{})
	return c
}

// SetEgress installs the egress allow-list of a new policy.
func (c *Clients) SetEgress(cfg EgressConfig) {
	p := newEgressPolicy(cfg)
	c.egressPolicy.Store(&p)
}

// RoundTripper returns the transport of an http.Client made for service.
// Requests to service, or to any other mesh service, go to an endpoint of
// that service; the scheme must be http (the mesh secures the connection
// itself). A request to service fails with [engine.ErrNoEndpoint] while it
// has no endpoint, rather than being treated as egress. Any other host is
// egress, sent through egress (if not nil, else the clients' own egress
// transport) when the policy allows it.
func (c *Clients) RoundTripper(service string, egress http.RoundTripper) http.RoundTripper {
	return client{c: c, service: service, egress: egress}
}

// Endpoints returns the addresses requests to service are balanced over.
func (c *Clients) Endpoints(service string) []string {
	d := c.engine.Destination(service)
	if d == nil {
		return nil
	}
	eps := d.Endpoints(engine.HTTP)
	addrs := make([]string, len(eps))
	for i, ep := range eps {
		addrs[i] = ep.Addr
	}
	return addrs
}

// Status returns the state of every destination as HTTP clients see it,
// sorted by service.
func (c *Clients) Status() []observe.DestinationStatus { return c.engine.Status(engine.HTTP, nil) }

// CloseIdleConnections closes the idle connections of the transports the
// clients created.
func (c *Clients) CloseIdleConnections() {
	for _, f := range c.closeIdle {
		f()
	}
	for _, p := range *c.pools.Load() {
		for _, t := range p.own {
			t.CloseIdleConnections()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.retired {
		t.CloseIdleConnections()
	}
}

// client is the RoundTripper of one http.Client.
type client struct {
	c       *Clients
	service string
	egress  http.RoundTripper
}

// RoundTrip implements [http.RoundTripper].
func (cl client) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	d := cl.c.engine.Destination(host)
	meshHost := req.URL.Scheme == "http" && req.URL.Port() == ""
	// A bare name such as "payments" is a mesh service, known or not: it
	// never falls through to DNS and plaintext egress.
	if d == nil && meshHost && (host == cl.service || isServiceName(host)) {
		closeBody(req)
		return nil, engine.NoEndpoint(host)
	}
	if d == nil || !meshHost {
		return cl.sendEgress(req, host)
	}
	return cl.c.send(d, req)
}

func (cl client) sendEgress(req *http.Request, host string) (*http.Response, error) {
	if !cl.c.egressPolicy.Load().allows(host) {
		closeBody(req)
		return nil, fmt.Errorf("transport: %s: %w (add it to egress.allow)", host, ErrEgressDenied)
	}
	if cl.egress != nil {
		return cl.egress.RoundTrip(req)
	}
	return cl.c.egress.RoundTrip(req)
}

// newMeshTransport returns the transport for connections to mesh
// endpoints: many idle connections per endpoint, since one client sends a
// service's whole load to a handful of addresses.
func newMeshTransport() *http.Transport {
	return &http.Transport{
		DialContext:           dialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

var dialer = &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}

// dialContext marks connection failures so that the client knows the
// request was never sent.
func dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &connectError{addr: addr, err: err}
	}
	return conn, nil
}

// egressPolicy decides which non-mesh hosts clients may reach.
type egressPolicy struct {
	any      bool
	exact    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"
}

func newEgressPolicy(c EgressConfig) egressPolicy {
	if c.Allow == nil {
		return egressPolicy{any: true}
	}
	p := egressPolicy{exact: make(map[string]bool)}
	for _, h := range c.Allow {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			p.suffixes = append(p.suffixes, suffix)
			continue
		}
		p.exact[h] = true
	}
	return p
}

func (p egressPolicy) allows(host string) bool {
	if p.any {
		return true
	}
	host = strings.ToLower(host)
	if p.exact[host] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// connectError reports that a connection to an endpoint could not be
// made, so the request was never sent.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string { return "connect to " + e.addr + ": " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// isConnectError reports whether err means the connection was never
// made. Besides the clients' own dialer, it recognizes the standard
// library's dial errors, so a caller-supplied base transport gets the same
// retry.
func isConnectError(err error) bool {
	var ce *connectError
	if errors.As(err, &ce) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
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

// logger returns the engine's logger, for events of the HTTP side.
func (c *Clients) logger() *slog.Logger { return c.engine.Logger() }
