// Package extauthztest runs an Envoy ext_authz gRPC server for Weft's
// tests: a real envoy.service.auth.v3.Authorization service on a loopback
// port, built on go-control-plane's types, whose decisions a test
// supplies, so that the mesh's Envoy client is tested over real gRPC
// against the protocol's own messages.
package extauthztest

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Decide answers one check. It runs on the server's goroutines, one per
// call, and may block until ctx ends.
type Decide func(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error)

// Server is a running ext_authz server.
type Server struct {
	addr   string
	srv    *grpc.Server
	calls  atomic.Int64
	mu     sync.Mutex
	decide Decide
	last   *authv3.CheckRequest
	done   chan struct{}
}

// Start serves decide on a free loopback port until the test ends.
func Start(t testing.TB, decide Decide) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: l.Addr().String(), srv: grpc.NewServer(), decide: decide, done: make(chan struct{})}
	authv3.RegisterAuthorizationServer(s.srv, (*service)(s))
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(s.Stop)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Calls returns the number of checks the server received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Last returns the last check the server received, nil before any.
func (s *Server) Last() *authv3.CheckRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// SetDecide replaces how the server answers.
func (s *Server) SetDecide(d Decide) {
	s.mu.Lock()
	s.decide = d
	s.mu.Unlock()
}

// Stop stops the server at once, as a crash would: open connections and
// calls in flight are cut. It may be called more than once.
func (s *Server) Stop() {
	s.srv.Stop()
	<-s.done
}

type service Server

func (s *service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.last = req
	d := s.decide
	s.mu.Unlock()
	return d(ctx, req)
}

// Allow is a Decide that allows everything.
func Allow(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return OK(), nil
}

// OK returns a response that allows the request.
func OK() *authv3.CheckResponse {
	return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)}}
}

// Denied returns a response that denies the request with an HTTP status
// and body.
func Denied(httpStatus int, body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(httpStatus)}, Body: body,
		}},
	}
}

// Hang is a Decide that never answers: it returns only when the call is
// cancelled.
func Hang(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
