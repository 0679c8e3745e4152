package transport

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/weftmesh/weft/internal/engine"
)

// conns is how a destination's endpoints are reached: in plaintext through
// the clients' base transport, or over mutual TLS through a pool of the
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

// roundTrip sends one attempt through the destination's connections.
func (cn *conns) roundTrip(c *Clients, req *http.Request) (*http.Response, error) {
	if cn.rt == nil {
		return c.base.RoundTrip(req)
	}
	return cn.rt.RoundTrip(req)
}

// connsFor returns how d's endpoints are reached under d's settings,
// keeping a service's pool while its TLS configuration is unchanged.
func (c *Clients) connsFor(d *engine.Destination) *conns {
	cfg := d.TLS()
	if cfg == nil {
		return plaintext
	}
	if cn := (*c.pools.Load())[d.Service]; cn != nil && cn.tls == cfg {
		return cn
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pools := *c.pools.Load()
	old := pools[d.Service]
	if old != nil && old.tls == cfg {
		return old
	}
	if old != nil {
		// A replaced pool's idle connections close now, its busy ones
		// once they go idle.
		old.rt.CloseIdleConnections()
		c.retired = append(c.retired, old.rt)
	}
	t := newMeshTransport()
	t.DialContext = nil
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialTLS(ctx, network, addr, cfg)
	}
	cn := &conns{tls: cfg, rt: t, scheme: "https"}
	next := maps.Clone(pools)
	next[d.Service] = cn
	c.pools.Store(&next)
	return cn
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
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, &connectError{addr: addr, err: err}
	}
	return conn, nil
}

// handshakeTimeout bounds a TLS handshake with a mesh endpoint, as the
// dialer's timeout bounds connecting: a few round trips take milliseconds,
// and an attempt that gives up early still leaves the call time to retry.
const handshakeTimeout = 2 * time.Second
