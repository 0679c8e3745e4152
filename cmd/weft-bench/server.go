package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
)

// serverReady is what a server process announces on its first line of
// output once it accepts requests.
type serverReady struct {
	Addr   string `json:"addr"`             // where it serves
	Gossip string `json:"gossip,omitempty"` // the Weft node's gossip address, for the client's node to join
}

// okHandler is the service every HTTP mode serves: a short body, so that
// what is measured is the hop.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })

// quoter is the service every gRPC mode serves: shop.Payments/Quote of
// the gRPC example, answered at once.
type quoter struct {
	shoppb.UnimplementedPaymentsServer
}

func (quoter) Quote(context.Context, *shoppb.QuoteRequest) (*shoppb.QuoteReply, error) {
	return &shoppb.QuoteReply{AmountCents: 100}, nil
}

func newHTTPServer() *http.Server {
	return &http.Server{Handler: okHandler, ReadHeaderTimeout: 10 * time.Second}
}

// rawHTTPServer is a plain net/http server, with or without mutual TLS
// (HTTP/1.1 only, like every HTTP mode).
func rawHTTPServer(secure bool) func(context.Context, childEnv, func(serverReady)) error {
	return func(ctx context.Context, env childEnv, announce func(serverReady)) error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := l.Addr().String()
		if secure {
			cfg, err := env.dir.serverTLS()
			if err != nil {
				l.Close()
				return err
			}
			cfg.NextProtos = []string{"http/1.1"}
			l = tls.NewListener(l, cfg)
		}
		srv := newHTTPServer()
		return serveUntil(ctx, func() error { return srv.Serve(l) }, func() { srv.Close() },
			func() { announce(serverReady{Addr: addr}) })
	}
}

// weftHTTPServer is a Weft node serving HTTP through Node.Serve.
func weftHTTPServer(s weftSetup) func(context.Context, childEnv, func(serverReady)) error {
	return func(ctx context.Context, env childEnv, announce func(serverReady)) error {
		n, stop, err := startNode(ctx, env, s, serverService, nil)
		if err != nil {
			return err
		}
		defer stop()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		return serveUntil(ctx, func() error { return n.Serve(newHTTPServer(), l) }, stop,
			func() { announce(serverReady{Addr: l.Addr().String(), Gossip: n.GossipAddr()}) })
	}
}

// rawGRPCServer is a plain grpc-go server with mutual TLS.
func rawGRPCServer(ctx context.Context, env childEnv, announce func(serverReady)) error {
	cfg, err := env.dir.serverTLS()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	shoppb.RegisterPaymentsServer(s, quoter{})
	return serveUntil(ctx, func() error { return s.Serve(l) }, s.Stop,
		func() { announce(serverReady{Addr: l.Addr().String()}) })
}

// weftGRPCServer is a Weft node serving gRPC through NewGRPCServer and
// ServeGRPC.
func weftGRPCServer(s weftSetup) func(context.Context, childEnv, func(serverReady)) error {
	return func(ctx context.Context, env childEnv, announce func(serverReady)) error {
		n, stop, err := startNode(ctx, env, s, serverService, nil)
		if err != nil {
			return err
		}
		defer stop()
		gs := n.NewGRPCServer()
		shoppb.RegisterPaymentsServer(gs, quoter{})
		return serveUntil(ctx, func() error { return n.ServeGRPC(gs, "127.0.0.1:0") }, stop,
			func() { announce(serverReady{Gossip: n.GossipAddr()}) })
	}
}

// serveUntil runs serve, announces, and once ctx ends calls stop and
// waits for serve to return. An error of serve before that is returned.
func serveUntil(ctx context.Context, serve func() error, stop func(), announce func()) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	announce()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	stop()
	err := <-errc
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}
