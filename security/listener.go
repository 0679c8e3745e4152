package security

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// sniffTimeout bounds how long a new connection may stay silent before its
// first byte tells TLS from plaintext.
const sniffTimeout = 10 * time.Second

// tlsHandshakeRecord is the first byte of every TLS connection.
const tlsHandshakeRecord = 0x16

// ListenerConfig configures [NewListener].
type ListenerConfig struct {
	// TLS is the server configuration of mutual TLS connections, normally
	// [ServerTLS]. If nil, the node has no identity and every connection
	// is served in plaintext, as in [Disabled].
	TLS *tls.Config
	// Mode returns the mode of the service served, read once per
	// connection, so that a policy reload applies to new connections.
	// If nil, [Strict].
	Mode func() Mode
	// Service names the service served, in the error plaintext callers
	// of a strict server receive.
	Service string
	// Logger receives refused connections. If nil, they are discarded.
	Logger *slog.Logger
}

// ListenerStats counts a listener's connections by how they were served.
type ListenerStats struct {
	TLS       uint64 `json:"tls"`       // handed over as mutual TLS connections
	Plaintext uint64 `json:"plaintext"` // handed over in plaintext
	Refused   uint64 `json:"refused"`   // closed because the mode did not allow them
}

// Listener serves mutual TLS and, where the mode allows, plaintext on one
// port. The first byte of each connection says which one the client
// speaks; connections are classified in their own goroutines, so a silent
// client never holds up Accept.
type Listener struct {
	inner net.Listener
	cfg   ListenerConfig

	conns chan net.Conn
	errs  chan error
	done  chan struct{}

	mu      sync.Mutex // guards pending and closed
	pending map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	once    sync.Once

	tls, plain, refused atomic.Uint64
	lastWarn            atomic.Int64 // unix nanoseconds of the last refusal logged
}

// NewListener returns a listener that accepts from l and hands over each
// connection as cfg says. Closing it closes l.
func NewListener(l net.Listener, cfg ListenerConfig) *Listener {
	if cfg.Mode == nil {
		cfg.Mode = func() Mode { return Strict }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln := &Listener{
		inner:   l,
		cfg:     cfg,
		conns:   make(chan net.Conn),
		errs:    make(chan error),
		done:    make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	ln.wg.Add(1)
	go ln.acceptLoop()
	return ln
}

// Accept returns the next connection: a *tls.Conn whose handshake has not
// run yet (net/http runs it), or a plaintext connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes the connections not yet handed over and
// waits for the goroutines of the listener. It is idempotent.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

// Addr returns the address of the underlying listener.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{TLS: l.tls.Load(), Plaintext: l.plain.Load(), Refused: l.refused.Load()}
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case l.errs <- err: // net/http backs off on temporary errors
				continue
			case <-l.done:
				return
			}
		}
		if !l.track(c) {
			c.Close()
			return
		}
		l.wg.Add(1)
		go l.classify(c)
	}
}

// track records c as pending, unless the listener is closed.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.pending[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
}

// classify reads c's first byte and hands c over as TLS or plaintext, or
// refuses it.
func (l *Listener) classify(c net.Conn) {
	defer l.wg.Done()
	defer l.untrack(c)
	var first [1]byte
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	if _, err := io.ReadFull(c, first[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, first: first[:]}
	isTLS := first[0] == tlsHandshakeRecord
	mode := Disabled
	if l.cfg.TLS != nil {
		mode = l.cfg.Mode()
	}
	var out net.Conn
	switch {
	case isTLS && mode.clientTLS():
		// The handshake runs here, bounded, rather than in the server,
		// which bounds it only when it has read timeouts set.
		tc := tls.Server(pc, l.cfg.TLS)
		c.SetDeadline(time.Now().Add(sniffTimeout))
		if err := tc.Handshake(); err != nil {
			l.refused.Add(1)
			l.warn("weft: refused a TLS connection: handshake failed", "peer", c.RemoteAddr(), "err", err)
			c.Close()
			return
		}
		c.SetDeadline(time.Time{})
		out = tc
		l.tls.Add(1)
	case !isTLS && mode != Strict:
		out = pc
		l.plain.Add(1)
	default:
		l.refuse(pc, isTLS, mode)
		return
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

func (l *Listener) refuse(c net.Conn, isTLS bool, mode Mode) {
	l.refused.Add(1)
	if isTLS {
		l.warn("weft: refused a TLS connection: the service serves plaintext only (mtls: disabled)", "peer", c.RemoteAddr())
		c.Close()
		return
	}
	l.warn("weft: refused a plaintext connection: the service accepts mutual TLS only (mtls: strict)", "peer", c.RemoteAddr())
	// Most plaintext callers speak HTTP/1: tell them why in their terms.
	c.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+
		"weft: "+l.cfg.Service+" accepts mutual TLS only (mtls: "+string(mode)+"): call it through a Weft client that has a mesh identity\n")
	// Closing with the request unread would reset the connection and
	// could destroy the answer before the client reads it.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
	c.Close()
}

// warn logs a refusal, at most once a second: a flood of bad connections
// must not flood the logs too.
func (l *Listener) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(time.Second) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.cfg.Logger.Warn(msg, args...)
}

// peekedConn is a connection whose first bytes were already read.
type peekedConn struct {
	net.Conn
	first []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
