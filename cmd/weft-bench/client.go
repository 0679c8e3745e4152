package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
)

// target is where the client side sends its requests.
type target struct {
	Addr   string // the server's address, or the first sidecar's
	Gossip string // the server node's gossip address, for Weft modes
}

// endpoint is the client side of a mode, ready to send.
type endpoint struct {
	caller
	// describe sends one request and says what it went through (protocol,
	// TLS, sidecars), failing if that is not what the mode promises.
	describe func(ctx context.Context) (string, error)
	close    func()
}

// httpCaller sends GET / and reads the answer.
type httpCaller struct {
	client *http.Client
	url    string
	check  func(*http.Response) error // for describe; nil to check nothing more
}

func (h *httpCaller) call(ctx context.Context) error {
	resp, err := h.get(ctx)
	if err != nil {
		return err
	}
	return drain(resp)
}

func (h *httpCaller) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return nil, err
	}
	return h.client.Do(req)
}

func drain(resp *http.Response) error {
	_, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return err
}

func (h *httpCaller) describe(ctx context.Context) (string, error) {
	resp, err := h.get(ctx)
	if err != nil {
		return "", err
	}
	if err := drain(resp); err != nil {
		return "", err
	}
	parts := []string{resp.Proto}
	if resp.TLS != nil {
		parts = append(parts, tlsSummary(*resp.TLS))
	}
	if via := resp.Header.Values(viaHeader); len(via) > 0 {
		parts = append(parts, "via "+strings.Join(via, ", "))
	}
	if h.check != nil {
		if err := h.check(resp); err != nil {
			return strings.Join(parts, ", "), err
		}
	}
	return strings.Join(parts, ", "), nil
}

func tlsSummary(cs tls.ConnectionState) string {
	s := tls.VersionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite)
	if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].URIs) > 0 {
		s += ", server " + cs.PeerCertificates[0].URIs[0].String()
	}
	return s
}

// meshTransport is how the plain Go clients reach their server: kept-alive
// HTTP/1.1 connections, as many idle ones per host as Weft keeps.
func meshTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
}

// rawHTTPClient is a plain net/http client, with or without mutual TLS.
// check, if not nil, vets the first answer.
func rawHTTPClient(secure bool, check func(*http.Response) error) func(context.Context, childEnv, target) (*endpoint, error) {
	return func(_ context.Context, env childEnv, t target) (*endpoint, error) {
		tr := meshTransport()
		url := "http://" + t.Addr + "/"
		if secure {
			cfg, err := env.dir.clientTLS()
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
			url = "https://" + t.Addr + "/"
		}
		h := &httpCaller{client: &http.Client{Transport: tr}, url: url, check: check}
		return &endpoint{caller: h, describe: h.describe, close: tr.CloseIdleConnections}, nil
	}
}

// weftHTTPClient is a Weft node's client for the server's service.
func weftHTTPClient(s weftSetup) func(context.Context, childEnv, target) (*endpoint, error) {
	return func(ctx context.Context, env childEnv, t target) (*endpoint, error) {
		n, stop, err := startNode(ctx, env, s, clientService, []string{t.Gossip})
		if err != nil {
			return nil, err
		}
		h := &httpCaller{client: n.NewClient(serverService), url: "http://" + serverService + "/"}
		if s.policy == policyMTLS {
			h.check = requireTLS
		}
		ep := &endpoint{caller: h, describe: h.describe, close: stop}
		if err := awaitAnswer(ctx, ep); err != nil {
			stop()
			return nil, err
		}
		return ep, nil
	}
}

func requireTLS(resp *http.Response) error {
	if resp.TLS == nil {
		return errors.New("the answer came over plaintext, want mutual TLS")
	}
	return nil
}

// grpcCaller calls shop.Payments/Quote.
type grpcCaller struct {
	client shoppb.PaymentsClient
}

var quoteRequest = &shoppb.QuoteRequest{OrderId: "o1", Items: 2}

func (g grpcCaller) call(ctx context.Context) error {
	_, err := g.client.Quote(ctx, quoteRequest)
	return err
}

func (g grpcCaller) describe(ctx context.Context) (string, error) {
	var p peer.Peer
	if _, err := g.client.Quote(ctx, quoteRequest, grpc.Peer(&p)); err != nil {
		return "", err
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", fmt.Errorf("the call went over %T, want mutual TLS", p.AuthInfo)
	}
	return "gRPC, " + tlsSummary(info.State), nil
}

// rawGRPCClient is a plain grpc-go channel with mutual TLS.
func rawGRPCClient(_ context.Context, env childEnv, t target) (*endpoint, error) {
	cfg, err := env.dir.clientTLS()
	if err != nil {
		return nil, err
	}
	cc, err := grpc.NewClient("passthrough:///"+t.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, err
	}
	g := grpcCaller{shoppb.NewPaymentsClient(cc)}
	return &endpoint{caller: g, describe: g.describe, close: func() { cc.Close() }}, nil
}

// weftGRPCClient is a gRPC channel from a Weft node's DialGRPC.
func weftGRPCClient(s weftSetup) func(context.Context, childEnv, target) (*endpoint, error) {
	return func(ctx context.Context, env childEnv, t target) (*endpoint, error) {
		n, stop, err := startNode(ctx, env, s, clientService, []string{t.Gossip})
		if err != nil {
			return nil, err
		}
		cc, err := n.DialGRPC(ctx, serverService)
		if err != nil {
			stop()
			return nil, err
		}
		g := grpcCaller{shoppb.NewPaymentsClient(cc)}
		ep := &endpoint{caller: g, describe: g.describe, close: func() { cc.Close(); stop() }}
		if err := awaitAnswer(ctx, ep); err != nil {
			ep.close()
			return nil, err
		}
		return ep, nil
	}
}

// viaHeader is the response header each sidecar of the HAProxy pair adds,
// so that a run can show that its requests went through both.
const viaHeader = "X-Bench-Via"

// checkSidecars requires the marks of both sidecars, the second one
// saying that the hop between them was mutual TLS with a verified client
// certificate.
func checkSidecars(resp *http.Response) error {
	via := resp.Header.Values(viaHeader)
	if !slices.Contains(via, sidecarAMark) || !slices.Contains(via, sidecarBMark) {
		return fmt.Errorf("%s: %q, want %q and %q: the request did not go through both sidecars over mutual TLS", viaHeader, via, sidecarBMark, sidecarAMark)
	}
	return nil
}
