package rpc

import (
	"crypto/tls"
	"log/slog"

	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport"
)

// Protocol is the catalog protocol of the endpoints gRPC servers publish
// and channels dial.
const Protocol = "grpc"

// Config describes the node whose gRPC channels and servers this package
// makes. The same Config serves [NewDialer] and [ServerOptions]; each
// reads the fields it needs.
type Config struct {
	// Service is the name of the local service: outgoing calls name it
	// as their source, and inbound refusals as the service refusing.
	Service string
	// Zone is the caller's zone, preferred by destinations with
	// zoneAware.
	Zone string
	// Logger receives routing and security events. If nil, they are
	// discarded.
	Logger *slog.Logger

	// ClientTLS returns the client configuration of mutual TLS
	// connections to service, or nil to connect to it in plaintext. It is
	// called for every new connection, so that a policy reload applies to
	// the next connection; it must return the same *tls.Config while the
	// settings are the same. If nil, channels connect in plaintext.
	ClientTLS func(service string) *tls.Config

	// ServerTLS is the configuration that mutual TLS connections are
	// accepted with (security.ServerTLS). If nil, servers accept
	// plaintext only, as with mTLS disabled.
	ServerTLS *tls.Config
	// Mode returns the local service's mTLS mode, read for every new
	// connection. If nil, Strict when ServerTLS is set.
	Mode func() security.Mode
	// Inbound is the node's inbound middleware: servers apply its
	// authorization and limits and count their calls with it, so that
	// HTTP and gRPC calls share one set of limits. Required by
	// ServerOptions.
	Inbound *transport.Inbound
	// Observer returns the observer of the channels' calls
	// (Router.Observer, so that gRPC calls are traced, counted, logged and
	// kept in the routing history as HTTP calls are), or nil. It is read
	// at the start of every call and must not block. If nil, calls are not
	// observed. Servers report to Inbound's observer.
	Observer func() transport.CallObserver
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) mode() security.Mode {
	if c.ServerTLS == nil {
		return security.Disabled
	}
	if c.Mode == nil {
		return security.Strict
	}
	return c.Mode()
}
