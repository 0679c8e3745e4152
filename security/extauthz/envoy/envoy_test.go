package envoy_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/weftmesh/weft/internal/extauthztest"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/extauthz/envoy"
)

func authorizer(t *testing.T, addr string, cfg extauthz.Config) *extauthz.Authorizer {
	t.Helper()
	cfg.Envoy = &extauthz.EnvoyConfig{Address: addr}
	chk, err := envoy.New(*cfg.Envoy)
	if err != nil {
		t.Fatal(err)
	}
	a, err := extauthz.New(cfg, chk, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, a)
	return a
}

// closeAtEnd closes a when t ends; the authorizers of one test are closed
// together, so that their grace periods run at once.
func closeAtEnd(t *testing.T, a *extauthz.Authorizer) {
	mu.Lock()
	defer mu.Unlock()
	if closing[t] == nil {
		t.Cleanup(func() {
			mu.Lock()
			all := closing[t]
			delete(closing, t)
			mu.Unlock()
			for _, a := range all {
				a.Close()
			}
			for _, a := range all {
				<-a.Done()
			}
		})
	}
	closing[t] = append(closing[t], a)
}

var (
	mu      sync.Mutex
	closing = map[*testing.T][]*extauthz.Authorizer{}
)

func request(t *testing.T) *extauthz.Request {
	user, err := claims.Parse([]byte(`{"iss":"https://id.example/","sub":"alice","groups":["admins"]}`))
	if err != nil {
		t.Fatal(err)
	}
	return &extauthz.Request{Service: "payments", Protocol: "http", Method: "POST", Path: "/charge", Query: "x=1",
		Host: "payments", Scheme: "https", HTTPVersion: "HTTP/1.1", Headers: map[string]string{"x-tenant": "acme"},
		Source: extauthz.Peer{Principal: "spiffe://example.org/svc/checkout", Service: "checkout", Address: "127.0.0.1:4321"}, Claims: user}
}

// TestCheckRequest checks what a server written for Envoy receives.
func TestCheckRequest(t *testing.T) {
	srv := extauthztest.Start(t, extauthztest.Allow)
	a := authorizer(t, srv.Addr(), extauthz.Config{Timeout: 5 * time.Second})
	if d := a.Authorize(context.Background(), request(t)); !d.Allow || d.Failed {
		t.Fatalf("%+v", d)
	}
	attrs := srv.Last().GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h.GetMethod() != "POST" || h.GetPath() != "/charge?x=1" || h.GetHost() != "payments" || h.GetScheme() != "https" ||
		h.GetProtocol() != "HTTP/1.1" || h.GetHeaders()["x-tenant"] != "acme" {
		t.Errorf("http attributes: %v", h)
	}
	src := attrs.GetSource()
	if src.GetPrincipal() != "spiffe://example.org/svc/checkout" || src.GetService() != "checkout" ||
		src.GetAddress().GetSocketAddress().GetPortValue() != 4321 || attrs.GetDestination().GetService() != "payments" {
		t.Errorf("peers: %v %v", src, attrs.GetDestination())
	}
	payload := attrs.GetMetadataContext().GetFilterMetadata()[envoy.JWTMetadataNamespace].GetFields()[envoy.JWTPayloadKey].GetStructValue()
	if payload.GetFields()["sub"].GetStringValue() != "alice" || payload.GetFields()["groups"].GetListValue().GetValues()[0].GetStringValue() != "admins" {
		t.Errorf("claims in metadata: %v", payload)
	}
}

func TestAnswers(t *testing.T) {
	srv := extauthztest.Start(t, nil)
	a := authorizer(t, srv.Addr(), extauthz.Config{Timeout: 5 * time.Second, CacheTTL: time.Minute})
	ctx := context.Background()

	srv.SetDecide(func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return extauthztest.Denied(401, "log in first"), nil
	})
	d := a.Authorize(ctx, request(t))
	if d.Allow || d.Failed || d.DenialStatus() != 401 || d.Body != "log in first" {
		t.Errorf("denied: %+v", d)
	}

	srv.SetDecide(func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied), Message: "tenant suspended"}}, nil
	})
	r := request(t)
	r.Path = "/other"
	if d := a.Authorize(ctx, r); d.Allow || d.DenialStatus() != 403 || d.Reason != "tenant suspended" {
		t.Errorf("bare denial: %+v", d)
	}

	meta, _ := structpb.NewStruct(map[string]any{envoy.CacheTTLKey: 30})
	srv.SetDecide(func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return &authv3.CheckResponse{
			Status: &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{
					{Header: &corev3.HeaderValue{Key: "x-user", Value: "alice"}},
					{Header: &corev3.HeaderValue{Key: "x-tag", Value: "b"}, Append: wrapperspb.Bool(true)},
					{Header: &corev3.HeaderValue{Key: "x-once", Value: "n"}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT},
				},
				HeadersToRemove:      []string{"authorization"},
				ResponseHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-checked", Value: "1"}}},
			}},
			DynamicMetadata: meta,
		}, nil
	})
	r.Path = "/third"
	d = a.Authorize(ctx, r)
	if !d.Allow || len(d.RequestHeaders) != 3 || d.RequestHeaders[1].Action != extauthz.AppendHeader ||
		d.RequestHeaders[2].Action != extauthz.AddHeaderIfAbsent || d.RemoveHeaders[0] != "authorization" ||
		d.ResponseHeaders[0].Name != "x-checked" || d.CacheFor != 30*time.Second {
		t.Errorf("ok response: %+v", d)
	}
	calls := srv.Calls()
	if d := a.Authorize(ctx, r); !d.Cached || srv.Calls() != calls {
		t.Errorf("a decision the server allowed to cache was asked again: %+v", d)
	}
}

// TestServerFailures checks a server that hangs, crashes, answers
// garbage, or is not an ext_authz server at all: each is a failed check
// the failure mode decides, within the timeout.
func TestServerFailures(t *testing.T) {
	garbage := []struct {
		name string
		resp *authv3.CheckResponse
		err  error
	}{
		{"empty answer", &authv3.CheckResponse{}, nil},
		{"error response", &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.Internal)}, HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{}}}, nil},
		{"ok status with a denial", &authv3.CheckResponse{Status: &status.Status{}, HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}}, nil},
		{"bad header", &authv3.CheckResponse{Status: &status.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "bad key", Value: "v"}}}}}}, nil},
		{"grpc error", nil, errors.New("boom")},
	}
	for _, tc := range garbage {
		srv := extauthztest.Start(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) { return tc.resp, tc.err })
		a := authorizer(t, srv.Addr(), extauthz.Config{Timeout: 5 * time.Second})
		if d := a.Authorize(context.Background(), request(t)); !d.Failed || d.Allow || d.DenialStatus() != 503 {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}

	hanging := extauthztest.Start(t, extauthztest.Hang)
	a := authorizer(t, hanging.Addr(), extauthz.Config{Timeout: 150 * time.Millisecond, FailureMode: extauthz.FailAllow})
	start := time.Now()
	d := a.Authorize(context.Background(), request(t))
	if elapsed := time.Since(start); elapsed > 3*time.Second || !d.Failed || !d.Allow {
		t.Errorf("hanging server, allow mode: %+v after %v", d, elapsed)
	}

	crashing := extauthztest.Start(t, extauthztest.Allow)
	a = authorizer(t, crashing.Addr(), extauthz.Config{Timeout: 2 * time.Second})
	if d := a.Authorize(context.Background(), request(t)); !d.Allow {
		t.Fatalf("before the crash: %+v", d)
	}
	crashing.Stop()
	start = time.Now()
	if d := a.Authorize(context.Background(), request(t)); !d.Failed || d.Allow {
		t.Errorf("after the crash: %+v", d)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("a crashed server held the check %v", elapsed)
	}

	// A listener that answers every connection with junk.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\n\r\nnot grpc at all\n"))
			c.Close()
		}
	}()
	a = authorizer(t, l.Addr().String(), extauthz.Config{Timeout: 500 * time.Millisecond})
	if d := a.Authorize(context.Background(), request(t)); !d.Failed || d.Allow || !strings.Contains(d.Err.Error(), "envoy Check") {
		t.Errorf("junk server: %+v", d)
	}
	l.Close()
	<-done
}

// FuzzAnswer reads arbitrary bytes as a CheckResponse: Answer never
// panics, and what it accepts the Authorizer either applies or refuses as
// garbage.
func FuzzAnswer(f *testing.F) {
	for _, r := range []*authv3.CheckResponse{extauthztest.OK(), extauthztest.Denied(401, "x"), {}} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp authv3.CheckResponse
		if proto.Unmarshal(b, &resp) != nil {
			return
		}
		ans, err := envoy.Answer(&resp)
		if err != nil {
			return
		}
		if ans.Allow && ans.Status != 0 {
			t.Fatalf("an allowed answer carries denial status %d", ans.Status)
		}
		if ans.CacheFor < 0 {
			t.Fatalf("negative cache time %v", ans.CacheFor)
		}
	})
}
