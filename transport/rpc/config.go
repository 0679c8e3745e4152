package rpc

import (
	"crypto/tls"
	"log/slog"

	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/security"
)

// Config describes the node whose gRPC servers [ServerOptions] makes.
type Config struct {
	// Service is the name of the local service: inbound refusals name it
	// as the service refusing.
	Service string
	// Logger receives security events. If nil, they are discarded.
	Logger *slog.Logger
	// ServerTLS is the configuration that mutual TLS connections are
	// accepted with (security.ServerTLS). If nil, servers accept
	// plaintext only, as with mTLS disabled.
	ServerTLS *tls.Config
	// Mode returns the local service's mTLS mode, read for every new
	// connection. If nil, Strict when ServerTLS is set.
	Mode func() security.Mode
	// Inbound is the node's inbound gate, which its HTTP middleware
	// shares: servers apply its authorization and limits, count their
	// calls with it and report them to its observer, so that HTTP and
	// gRPC calls meet one set of rules and limits. Required.
	Inbound *inbound.Gate
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
