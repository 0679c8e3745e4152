package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"

	"google.golang.org/grpc/credentials"

	"github.com/weftmesh/weft/security"
)

// tlsHandshakeRecord is the first byte of every TLS connection.
const tlsHandshakeRecord = 0x16

// ServerTLS returns a copy of base that negotiates HTTP/2 ("h2"), as gRPC
// connections must: the configuration listeners hand gRPC connections
// over with. Certificates and peer verification stay base's own hooks, so
// that rotation still needs no restart. It returns nil for a nil base.
func ServerTLS(base *tls.Config) *tls.Config {
	if base == nil {
		return nil
	}
	c := base.Clone()
	c.NextProtos = []string{"h2"}
	return c
}

// plaintextInfo is the AuthInfo of a connection without TLS.
type plaintextInfo struct{ credentials.CommonAuthInfo }

func (plaintextInfo) AuthType() string { return "insecure" }

var plaintext = plaintextInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}

// tlsInfo is the AuthInfo of a mutual TLS connection: the standard
// credentials.TLSInfo, with the peer's verified SPIFFE ID.
func tlsInfo(cs tls.ConnectionState) credentials.TLSInfo {
	info := credentials.TLSInfo{State: cs, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if id, ok := security.PeerID(&cs); ok {
		info.SPIFFEID = id.URL()
	}
	return info
}

// clientCredentials connects a channel to its service's instances as the
// service's mTLS mode says, reading the settings for every connection.
type clientCredentials struct {
	service string
	tlsFor  func(service string) *tls.Config
	h2      atomic.Pointer[[2]*tls.Config] // the latest settings and their h2 copy
}

func newClientCredentials(service string, tlsFor func(string) *tls.Config) *clientCredentials {
	return &clientCredentials{service: service, tlsFor: tlsFor}
}

// config returns the TLS configuration of the next connection, nil for
// plaintext.
func (c *clientCredentials) config() *tls.Config {
	if c.tlsFor == nil {
		return nil
	}
	base := c.tlsFor(c.service)
	if base == nil {
		return nil
	}
	if p := c.h2.Load(); p != nil && p[0] == base {
		return p[1]
	}
	h2 := base.Clone()
	h2.NextProtos = []string{"h2"}
	c.h2.Store(&[2]*tls.Config{base, h2})
	return h2
}

// ClientHandshake runs the TLS handshake, in which the server must prove
// the service's SPIFFE ID; a server that does not (a stale or forged
// catalog entry) fails it, and its endpoint is never used.
func (c *clientCredentials) ClientHandshake(ctx context.Context, _ string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg := c.config()
	if cfg == nil {
		return raw, plaintext, nil
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("weft: mutual TLS with %s at %s: %w", c.service, raw.RemoteAddr(), err)
	}
	return conn, tlsInfo(conn.ConnectionState()), nil
}

func (c *clientCredentials) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("rpc: client credentials cannot serve")
}

func (c *clientCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "weft"}
}

func (c *clientCredentials) Clone() credentials.TransportCredentials {
	return newClientCredentials(c.service, c.tlsFor)
}

// OverrideServerName does nothing: the server's SPIFFE ID, not a name,
// is what is checked.
func (c *clientCredentials) OverrideServerName(string) error { return nil }

// serverCredentials accepts mutual TLS and, in permissive mode,
// plaintext. A security.Listener hands it either a *tls.Conn whose
// handshake has not run or a plaintext connection; any other listener
// hands it raw connections, whose first byte it reads to tell them apart,
// so that a server is never more open than its mode.
type serverCredentials struct {
	tls     *tls.Config // nil: plaintext only
	mode    func() security.Mode
	service string
	logger  *slog.Logger
}

func newServerCredentials(cfg Config) *serverCredentials {
	return &serverCredentials{tls: ServerTLS(cfg.ServerTLS), mode: cfg.mode, service: cfg.Service, logger: cfg.logger()}
}

func (c *serverCredentials) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if conn, ok := raw.(*tls.Conn); ok {
		return c.handshake(conn)
	}
	if c.tls == nil {
		return raw, plaintext, nil
	}
	mode := c.mode()
	if mode == security.Disabled {
		return raw, plaintext, nil
	}
	// gRPC has set the connection's handshake deadline.
	var first [1]byte
	if _, err := io.ReadFull(raw, first[:]); err != nil {
		return nil, nil, fmt.Errorf("weft: reading the first byte of a connection: %w", err)
	}
	pc := &peekedConn{Conn: raw, first: first[:]}
	switch {
	case first[0] == tlsHandshakeRecord:
		return c.handshake(tls.Server(pc, c.tls))
	case mode == security.Permissive:
		return pc, plaintext, nil
	}
	c.logger.Warn("weft: refused a plaintext gRPC connection: the service accepts mutual TLS only (mtls: strict)", "peer", raw.RemoteAddr())
	return nil, nil, fmt.Errorf("weft: %s accepts mutual TLS only (mtls: %s): refused a plaintext connection from %s", c.service, mode, raw.RemoteAddr())
}

// handshake completes a server-side TLS handshake; the configuration
// verifies the client's certificate against the trust bundles.
func (c *serverCredentials) handshake(conn *tls.Conn) (net.Conn, credentials.AuthInfo, error) {
	if err := conn.Handshake(); err != nil {
		return nil, nil, fmt.Errorf("weft: mutual TLS handshake with %s: %w", conn.RemoteAddr(), err)
	}
	cs := conn.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return nil, nil, fmt.Errorf("weft: mutual TLS handshake with %s: %w", conn.RemoteAddr(), security.ErrNoPeerCertificate)
	}
	return conn, tlsInfo(cs), nil
}

func (c *serverCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("rpc: server credentials cannot dial")
}

func (c *serverCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "weft"}
}

func (c *serverCredentials) Clone() credentials.TransportCredentials {
	cc := *c
	return &cc
}

func (c *serverCredentials) OverrideServerName(string) error { return nil }

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
