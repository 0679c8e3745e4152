package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/weftmesh/weft/internal/engine"
)

// h1Transport sends HTTP/1.1 requests to mesh endpoints on kept-alive
// connections, from the caller's goroutine: it writes the request, reads
// the answer's head and hands the body to the caller, and the connection
// goes back to the pool when the body has been read to its end. net/http's
// Transport does the same work with a reader and a writer goroutine per
// connection and hands every request and answer between them and the
// caller; doing it in place costs a mesh hop about a quarter less CPU.
//
// It sends what that fits: a request without a body, or with a body of a
// known length that fits the socket's buffers (a mesh call's replayable
// body). Anything else goes to fallback, a net/http transport for the same
// endpoints: requests that upgrade their connection, wait for 100 Continue,
// stream a body, carry trailers, or have header fields net/http would
// refuse (so that it says why).
//
// With no goroutine reading idle connections, a connection the server
// closed while it was idle is found when it is next taken: before reuse, a
// non-blocking peek at the socket must find nothing to read. A request
// that may be sent again (no body, an idempotent method) is sent on a new
// connection when a reused one breaks before any answer arrives, as
// net/http does.
//
// Unlike net/http's transport it asks for no gzip compression: between
// services on one network, compressing costs more than it saves. A caller
// that sets Accept-Encoding itself gets the encoded body, as with net/http.
type h1Transport struct {
	dial     func(ctx context.Context, addr string) (net.Conn, error) // a connection ready for HTTP/1.1
	fallback http.RoundTripper

	mu      sync.Mutex
	idle    map[string][]*h1Conn // by address, most recently used last
	nidle   int
	closing uint64 // connections made before the latest closeIdle are not kept
	sweep   *time.Timer
}

// h1 pool limits, as the mesh's net/http transports have them.
const (
	h1MaxIdlePerHost = 128
	h1MaxIdle        = 1024
	h1IdleTimeout    = 90 * time.Second
	h1BufferSize     = 4 << 10
	// h1Max1xx bounds the informational answers (103 Early Hints, …)
	// skipped before the final one.
	h1Max1xx = 5
)

func newH1Transport(dial func(ctx context.Context, addr string) (net.Conn, error), fallback http.RoundTripper) *h1Transport {
	return &h1Transport{dial: dial, fallback: fallback, idle: make(map[string][]*h1Conn)}
}

// newPlainH1 returns the transport for plaintext HTTP/1.1 to mesh
// endpoints, with fallback for what it does not send itself.
func newPlainH1(fallback http.RoundTripper) *h1Transport {
	return newH1Transport(func(ctx context.Context, addr string) (net.Conn, error) {
		return dialContext(ctx, "tcp", addr)
	}, fallback)
}

// newTLSH1 returns the transport for HTTP/1.1 over mutual TLS with cfg,
// for one destination, with fallback for what it does not send itself.
func newTLSH1(cfg *tls.Config, fallback http.RoundTripper) *h1Transport {
	return newH1Transport(func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := dialTLS(ctx, "tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		if p := conn.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			conn.Close()
			return nil, &connectError{addr: addr, err: fmt.Errorf("the server chose %q where HTTP/1.1 was offered", p)}
		}
		return conn, nil
	}, fallback)
}

// RoundTrip implements [http.RoundTripper].
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sendsItself(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	for resent := false; ; resent = true {
		if err := ctx.Err(); err != nil {
			closeBody(req)
			return nil, err
		}
		c, err := t.get(ctx, req.URL.Host)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.exchange(ctx, req)
		if err == nil {
			return resp, nil
		}
		// A connection the server closed as the request was sent on it:
		// a request that may be repeated goes once more, on a new one.
		if !resent && c.reused && errors.Is(err, errNoAnswer) && replayable(req) && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

// sendsItself reports whether the transport sends req itself rather than
// through its fallback.
func sendsItself(req *http.Request) bool {
	if req.Method == http.MethodConnect || req.Cancel != nil || len(req.Trailer) > 0 || isUpgrade(req.Header) {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > maxReplayBody) {
		return false
	}
	if _, ok := req.Header["Expect"]; ok {
		return false
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return false
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// errNoAnswer marks a connection that broke before the first byte of an
// answer arrived on it.
var errNoAnswer = errors.New("the connection closed before an answer")

// get returns an idle connection to addr that is still open, or a new one.
func (t *h1Transport) get(ctx context.Context, addr string) (*h1Conn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		conns := t.idle[addr]
		n := len(conns)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		c := conns[n-1]
		conns[n-1] = nil
		t.idle[addr] = conns[:n-1]
		t.nidle--
		t.mu.Unlock()
		if now.Sub(c.idleSince) < h1IdleTimeout && c.open() {
			c.reused = true
			return c, nil
		}
		c.nc.Close()
	}
	nc, err := t.dial(ctx, addr)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// The request gave up while connecting: that says nothing
			// about the endpoint, which must not be marked down for it.
			return nil, cerr
		}
		return nil, err
	}
	return t.newConn(nc, addr), nil
}

func (t *h1Transport) newConn(nc net.Conn, addr string) *h1Conn {
	c := &h1Conn{t: t, nc: nc, addr: addr}
	t.mu.Lock()
	c.gen = t.closing
	t.mu.Unlock()
	c.br = bufio.NewReaderSize(nc, h1BufferSize)
	c.bw = bufio.NewWriterSize(nc, h1BufferSize)
	raw := nc
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.tls = &cs
		raw = tc.NetConn()
	}
	if sc, ok := raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
			c.peekFunc = c.peek
		}
	}
	return c
}

// put keeps c for the next request to its address, or closes it when the
// pool is full or was told to close what it holds since c was made.
func (t *h1Transport) put(c *h1Conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if c.gen != t.closing || t.nidle >= h1MaxIdle || len(t.idle[c.addr]) >= h1MaxIdlePerHost {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
	t.nidle++
	if t.sweep == nil {
		t.sweep = time.AfterFunc(h1IdleTimeout, t.closeExpired)
	}
	t.mu.Unlock()
}

// closeExpired closes the connections idle for longer than the idle
// timeout, and looks again later while any are left.
func (t *h1Transport) closeExpired() {
	var expired []*h1Conn
	now := time.Now()
	t.mu.Lock()
	for addr, conns := range t.idle {
		kept := conns[:0]
		for _, c := range conns {
			if now.Sub(c.idleSince) >= h1IdleTimeout {
				expired = append(expired, c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(conns[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	t.nidle -= len(expired)
	t.sweep = nil
	if t.nidle > 0 {
		t.sweep = time.AfterFunc(h1IdleTimeout/2, t.closeExpired)
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
}

// CloseIdleConnections closes the idle connections, and the busy ones
// once their answer has been read, as a retired net/http transport does.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*h1Conn)
	t.nidle = 0
	t.closing++
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// h1Conn is one kept-alive connection, used by one request at a time.
type h1Conn struct {
	t         *h1Transport
	nc        net.Conn
	addr      string
	br        *bufio.Reader
	bw        *bufio.Writer
	tls       *tls.ConnectionState // nil in plaintext
	gen       uint64
	idleSince time.Time
	reused    bool // it carried an earlier request

	raw      syscall.RawConn // the socket under any TLS, nil if unknown
	peekFunc func(fd uintptr) bool
	peekErr  error // of the last peek: EAGAIN while the connection is open
	peekBuf  [1]byte
}

// open reports whether nothing arrived on an idle connection: an idle
// HTTP/1.1 connection has nothing to read until it is sent a request, so
// data (a TLS close alert) or the end of the stream mean the server is
// closing it.
func (c *h1Conn) open() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if c.raw == nil {
		return true
	}
	if err := c.raw.Read(c.peekFunc); err != nil {
		return false
	}
	return c.peekErr == syscall.EAGAIN
}

// peek is the raw read of open, kept in the connection as a function
// value so that checking costs no allocation.
func (c *h1Conn) peek(fd uintptr) bool {
	_, _, c.peekErr = syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return true
}

// exchange sends req on c and reads the head of its answer; the body is
// read by the caller, and c is kept or closed once it ends. On an error c
// is closed.
func (c *h1Conn) exchange(ctx context.Context, req *http.Request) (*http.Response, error) {
	x := &h1Exchange{c: c, ctx: ctx}
	x.stop = engine.AfterFunc(ctx, x.abort) // x.abort is harmless once x ended
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		return nil, x.fail(err, true)
	}
	var resp *http.Response
	for i := 0; ; i++ {
		if _, err := c.br.Peek(1); err != nil {
			return nil, x.fail(err, i == 0)
		}
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return nil, x.fail(err, false)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if i == h1Max1xx {
			return nil, x.fail(fmt.Errorf("more than %d informational (1xx) answers", h1Max1xx), false)
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Upgrades go to the fallback; a server that switches anyway
		// leaves a connection no longer in HTTP/1.1.
		return nil, x.fail(errors.New("the server switched protocols without being asked"), false)
	}
	resp.TLS = c.tls
	x.keep = !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		x.end(nil)
		return resp, nil
	}
	x.body = resp.Body
	resp.Body = x
	return resp, nil
}

// h1Exchange is one request on a connection, from its writing until its
// answer's body ends; it is that body as the caller sees it.
type h1Exchange struct {
	c    *h1Conn
	ctx  context.Context
	stop func() bool // unregisters abort from ctx, where it can
	body io.ReadCloser
	keep bool // the connection may carry another request

	mu      sync.Mutex
	ended   bool
	aborted bool
}

// abort breaks the connection when the request's context ends first: the
// write or read blocked on it returns at once.
func (x *h1Exchange) abort() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.ended {
		x.aborted = true
		x.c.nc.SetDeadline(aLongTimeAgo)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// end finishes the exchange once: the connection goes back to the pool
// when err is nil and the answer allows it, and is closed otherwise. It
// reports whether the context aborted the exchange.
func (x *h1Exchange) end(err error) (aborted bool) {
	x.mu.Lock()
	if x.ended {
		x.mu.Unlock()
		return false
	}
	x.ended = true
	aborted = x.aborted
	x.mu.Unlock()
	x.stop()
	if err == nil && x.keep && !aborted {
		x.c.t.put(x.c)
	} else {
		x.c.nc.Close()
	}
	return aborted
}

// fail ends the exchange after err, returning the error the caller sees:
// the context's when it ended; wrapping errNoAnswer when the connection
// broke before anything of an answer arrived (before says whether
// nothing did).
func (x *h1Exchange) fail(err error, before bool) error {
	x.end(err)
	if cerr := x.ctx.Err(); cerr != nil {
		return cerr
	}
	if before && brokenConn(err) {
		return fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	return err
}

// brokenConn reports whether err is the connection's: it ended, was
// reset, or failed, rather than the request being one it cannot carry.
func brokenConn(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.As(err, &ne)
}

// Read implements [io.Reader]: the answer's body. At its end the
// connection is kept for another request.
func (x *h1Exchange) Read(p []byte) (int, error) {
	n, err := x.body.Read(p)
	switch {
	case err == io.EOF:
		x.end(nil)
	case err != nil:
		if x.end(err) {
			// The context ended: say so rather than that a deadline
			// passed on the connection.
			if cerr := x.ctx.Err(); cerr != nil {
				err = cerr
			}
		}
	}
	return n, err
}

// Close implements [io.Closer]. A body closed before its end takes the
// connection with it: what is left of the answer would have to be read
// before the next one.
func (x *h1Exchange) Close() error {
	x.end(errBodyClosed)
	return nil
}

var errBodyClosed = errors.New("body closed before its end")
