package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// conns is how a destination's endpoints are reached: in plaintext through
// the router's base transport, or over mutual TLS through a pool of the
// destination's own.
//
// Each TLS destination has its own pool because the server identity a
// connection was checked against is the destination's: a connection
// verified as "orders" must never carry a request for "payments", even
// when a catalog entry puts both at one address.
type conns struct {
	tls    *tls.Config     // nil for plaintext
	rt     *http.Transport // nil for plaintext
	scheme string
}

var plaintext = &conns{scheme: "http"}

// roundTrip sends one try through the destination's connections.
func (c *conns) roundTrip(r *Router, req *http.Request) (*http.Response, error) {
	if c.rt == nil {
		return r.base.RoundTrip(req)
	}
	return c.rt.RoundTrip(req)
}

// connsLocked returns how svc's endpoints are reached under the current
// settings, keeping the pool while its TLS configuration is unchanged.
func (r *Router) connsLocked(svc string) *conns {
	var cfg *tls.Config
	if r.tlsFor != nil {
		cfg = r.tlsFor(svc)
	}
	old := r.conns[svc]
	if cfg == nil {
		if old != nil {
			delete(r.conns, svc)
			r.retireLocked(old.rt)
		}
		return plaintext
	}
	if old != nil && old.tls == cfg {
		return old
	}
	if old != nil {
		r.retireLocked(old.rt)
	}
	t := newMeshTransport()
	t.DialContext = nil
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialTLS(ctx, network, addr, cfg)
	}
	c := &conns{tls: cfg, rt: t, scheme: "https"}
	r.conns[svc] = c
	return c
}

// dialTLS connects and completes the handshake, so that a server that
// fails it (the wrong identity, an untrusted certificate) counts as a
// connection that was never made: the request is sent elsewhere.
//
// The handshake has its own deadline: net/http dials with a context that
// outlives the request, and an endpoint that accepts connections but never
// answers must not hold them, nor escape being marked down.
func dialTLS(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	// Without an SVID to present, every endpoint would fail: that is this
	// node's problem, not theirs, so it is not a connection failure.
	if _, err := cfg.GetClientCertificate(nil); err != nil {
		return nil, err
	}
	raw, err := dialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, &connectError{addr: addr, err: err}
	}
	return c, nil
}

// handshakeTimeout bounds a TLS handshake with a mesh endpoint, as the
// dialer's timeout bounds connecting: a few round trips take milliseconds,
// and a try that gives up early still leaves the call time to retry.
const handshakeTimeout = 2 * time.Second

// retireLocked closes a replaced pool's idle connections and keeps it, so
// that the connections still carrying requests are closed by a later
// CloseIdleConnections once they are idle.
func (r *Router) retireLocked(t *http.Transport) {
	t.CloseIdleConnections()
	r.retired = append(r.retired, t)
}
