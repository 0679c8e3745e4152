package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/weftmesh/weft/admin"
	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/security"
)

// Wrap returns h behind the node's inbound middleware. Use it when you run
// your own server and publish it with [Node.Serve]; ListenAndServe wraps
// for you.
func (n *Node) Wrap(h http.Handler) http.Handler { return n.serveHTTP.Wrap(h) }

// ListenAndServe listens on addr ("127.0.0.1:0" picks a free port) and
// serves Wrap(h) there, publishing the endpoint in the catalog once
// listening. It returns http.ErrServerClosed after Shutdown. If h is nil,
// http.DefaultServeMux.
func (n *Node) ListenAndServe(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mesh: listen: %w", err)
	}
	return n.Serve(&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, l)
}

// Serve serves srv on l as the node's HTTP endpoint: it replaces
// srv.Handler by Wrap(srv.Handler) (nil means http.DefaultServeMux),
// publishes l's address in the catalog and marks the node ready. When Serve
// returns, the endpoint is withdrawn. On Shutdown the node drains, then
// shuts srv down gracefully; Serve then returns http.ErrServerClosed.
//
// The endpoint speaks HTTP/1.1 and HTTP/2, so that callers can use either,
// as the policy's services.<name>.protocol asks: over mutual TLS, ALPN
// picks one; in plaintext, HTTP/2 comes with prior knowledge (h2c). If
// srv.Protocols is set, it decides instead.
//
// A node publishes one HTTP endpoint: run one Node per service instance.
func (n *Node) Serve(srv *http.Server, l net.Listener) error {
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = n.Wrap(h)
	if srv.Protocols == nil {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if n.identity != nil {
		connCtx := srv.ConnContext
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if connCtx != nil {
				ctx = connCtx(ctx, c)
			}
			return security.ConnContext(ctx, c)
		}
	}

	n.mu.Lock()
	switch {
	case n.stopping:
		n.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	case len(n.servers) > 0:
		n.mu.Unlock()
		l.Close()
		return errors.New("mesh: the node already serves HTTP: run one Node per service instance")
	}
	n.servers = append(n.servers, srv)
	n.mu.Unlock()

	ep, err := n.publish(engine.HTTP.String(), l)
	if err != nil {
		n.forget(srv)
		l.Close()
		return err
	}
	n.logger.Info("weft: serving", "addr", ep.Addr)
	err = srv.Serve(n.listen(l))
	n.withdraw(ep, func() { n.forget(srv) })
	return err
}

// publish adds the endpoint of listener l, for protocol, to the node's
// catalog entry and marks the node ready. The HTTP and gRPC sides both use
// it.
func (n *Node) publish(protocol string, l net.Listener) (discovery.Endpoint, error) {
	ep := discovery.Endpoint{Protocol: protocol, Addr: n.advertised(l.Addr())}
	err := n.members.Update(func(in *discovery.Instance) {
		in.Endpoints = append(in.Endpoints, ep)
		// Updates are serialized, and Shutdown marks the node stopping
		// before it announces draining: a server that loses that race
		// must not announce ready after the drain.
		n.mu.Lock()
		stopping := n.stopping
		n.mu.Unlock()
		if !stopping {
			in.State = discovery.StateReady
		}
	})
	return ep, err
}

// withdraw removes a server that stopped outside of Shutdown, and its
// endpoint, so callers stop being sent to it. The HTTP and gRPC sides
// both use it: forget drops the server from the node's list.
func (n *Node) withdraw(ep discovery.Endpoint, forget func()) {
	n.mu.Lock()
	stopping := n.stopping
	n.mu.Unlock()
	if stopping {
		return
	}
	forget()
	err := n.members.Update(func(in *discovery.Instance) {
		in.Endpoints = slices.DeleteFunc(in.Endpoints, func(e discovery.Endpoint) bool { return e == ep })
		// The admin endpoint serves no traffic: a node left with only
		// that one serves nothing.
		if !slices.ContainsFunc(in.Endpoints, func(e discovery.Endpoint) bool { return e.Protocol != admin.Protocol }) {
			in.State = discovery.StateStarting
		}
	})
	if err != nil {
		n.logger.Warn("weft: could not withdraw endpoint", "addr", ep.Addr, "err", err)
	}
}

func (n *Node) forget(srv *http.Server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.servers = slices.DeleteFunc(n.servers, func(s *http.Server) bool { return s == srv })
}
