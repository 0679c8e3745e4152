package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/engine"
)

// conns is how a destination's endpoints are reached: in plaintext through
// the clients' shared transports, or over mutual TLS through a pool of the
// destination's own; in HTTP/1.1 (through Weft's own [h1Transport], over
// net/http for what it does not send itself), or in HTTP/2 when the
// destination's policy says so, one multiplexed connection per endpoint.
// Requests that upgrade their connection (WebSocket) always go over
// HTTP/1.1, which is the only protocol that can carry them.
//
// Each TLS destination has its own pool because the server identity a
// connection was checked against is the destination's: a connection
// verified as "orders" must never carry a request for "payments", even
// when a catalog entry puts both at one address.
type conns struct {
	tls      *tls.Config       // nil for plaintext
	protocol string            // engine.HTTP1 or engine.HTTP2
	rt       http.RoundTripper // the destination's requests
	h1       http.RoundTripper // upgrades, over HTTP/2 destinations
	own      []idleCloser      // the TLS pools made for the destination
	scheme   string
}

// idleCloser is a transport whose idle connections can be closed.
type idleCloser interface{ CloseIdleConnections() }

// roundTrip sends one attempt through the destination's connections.
func (cn *conns) roundTrip(req *http.Request) (*http.Response, error) {
	if cn.protocol != engine.HTTP2 {
		return cn.rt.RoundTrip(req)
	}
	if isUpgrade(req.Header) {
		return cn.h1.RoundTrip(req)
	}
	resp, err := cn.rt.RoundTrip(req)
	if err != nil && errors.Is(err, io.ErrUnexpectedEOF) && replayable(req) {
		// The connection ended before any answer came: the server went
		// away, maybe before it read the request. net/http sends such a
		// request again on a new HTTP/1.1 connection; so does HTTP/2
		// here, so that the protocol does not change what fails.
		resp, err = cn.rt.RoundTrip(req)
	}
	return resp, err
}

// replayable reports whether net/http would send req again after its
// connection broke: it has no body and a method that may be repeated
// (or an idempotency key).
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// isUpgrade reports whether a request asks to upgrade its connection
// (Connection: upgrade), which HTTP/2 cannot do.
func isUpgrade(h http.Header) bool {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// connsFor returns how d's endpoints are reached under d's settings,
// keeping a service's pool while its TLS configuration and protocol are
// unchanged.
func (c *Clients) connsFor(d *engine.Destination) *conns {
	cfg, protocol := d.TLS(), d.Config().Protocol
	if cfg == nil {
		if protocol == engine.HTTP2 {
			return c.h2c
		}
		return c.plain
	}
	if cn := (*c.pools.Load())[d.Service]; cn != nil && cn.tls == cfg && cn.protocol == protocol {
		return cn
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pools := *c.pools.Load()
	old := pools[d.Service]
	if old != nil && old.tls == cfg && old.protocol == protocol {
		return old
	}
	if old != nil {
		// A replaced pool's idle connections close now, its busy ones
		// once they go idle.
		for _, t := range old.own {
			t.CloseIdleConnections()
			c.retired = append(c.retired, t)
		}
	}
	h1 := newTLSTransport(cfg)
	cn := &conns{tls: cfg, protocol: protocol, h1: h1, scheme: "https"}
	if protocol == engine.HTTP2 {
		// The same identity check, offering h2 first: a server that
		// does not speak it answers in HTTP/1.1 on the same connection.
		h2cfg := cfg.Clone()
		h2cfg.NextProtos = []string{"h2"}
		h2 := newTLSTransport(h2cfg)
		h2.Protocols = new(http.Protocols)
		h2.Protocols.SetHTTP2(true)
		h2.MaxConnsPerHost = 1
		cn.rt, cn.own = h2, []idleCloser{h1, h2}
	} else {
		direct := newTLSH1(cfg, h1) // closes h1's idle connections too
		cn.rt, cn.own = direct, []idleCloser{direct}
	}
	next := maps.Clone(pools)
	next[d.Service] = cn
	c.pools.Store(&next)
	return cn
}

// newTLSTransport returns a transport that connects over mutual TLS with
// cfg, for one destination.
func newTLSTransport(cfg *tls.Config) *http.Transport {
	t := newMeshTransport()
	t.DialContext = nil
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialTLS(ctx, network, addr, cfg)
	}
	return t
}

// newH2CTransport returns the transport for plaintext HTTP/2 (h2c, with
// prior knowledge) to mesh endpoints.
func newH2CTransport() *http.Transport {
	t := newMeshTransport()
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	t.MaxConnsPerHost = 1
	return t
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
