// Package envoy is the [extauthz.Checker] of Envoy's external
// authorization gRPC API, envoy.service.auth.v3.Authorization/Check, so
// that authorization servers written for Envoy's ext_authz filter answer
// Weft's requests unchanged.
//
// A request is described as Envoy's HTTP filter describes it:
// attributes.request.http carries the method, the path with its query,
// the host, the scheme, the protocol and the headers sent (names in lower
// case); attributes.source the caller's SPIFFE ID as principal, its
// service name and address; attributes.destination the service asked.
// Verified end-user claims travel where Envoy's jwt_authn filter puts
// them: metadata_context.filter_metadata["envoy.filters.http.jwt_authn"],
// under the key "jwt_payload".
//
// An OK status allows the request, with ok_response's headers,
// headers_to_remove and response_headers_to_add applied; any other
// status denies it, with denied_response's status (403 by default),
// headers and body. An error_response, or an answer with neither status
// nor response, counts as no answer: the failure mode decides. The number
// field cache_ttl_seconds of the response's dynamic_metadata allows the
// decision to be cached that long (within the Config's cacheTTL).
package envoy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/weftmesh/weft/internal/pemfile"
	"github.com/weftmesh/weft/security/extauthz"
)

// JWTMetadataNamespace and JWTPayloadKey say where the end-user claims
// are in the CheckRequest's metadata_context, as Envoy's jwt_authn filter
// with payload_in_metadata: jwt_payload would put them.
const (
	JWTMetadataNamespace = "envoy.filters.http.jwt_authn"
	JWTPayloadKey        = "jwt_payload"
)

// CacheTTLKey is the number field of the CheckResponse's dynamic_metadata
// by which a server allows its decision to be reused, in seconds.
const CacheTTLKey = "cache_ttl_seconds"

// Checker asks one ext_authz server over one gRPC connection.
type Checker struct {
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient
}

// New returns a Checker for the server cfg names. It connects lazily:
// an unreachable server shows in Check, not here.
func New(cfg extauthz.EnvoyConfig) (*Checker, error) {
	creds := insecure.NewCredentials()
	if cfg.CA != "" {
		pool, err := pemfile.CertPool(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("extauthz: envoy.ca: %w", err)
		}
		creds = credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient("passthrough:///"+cfg.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("extauthz: envoy.address: %w", err)
	}
	return &Checker{conn: conn, client: authv3.NewAuthorizationClient(conn)}, nil
}

// Close closes the connection.
func (c *Checker) Close() error { return c.conn.Close() }

// Check asks the server about r.
func (c *Checker) Check(ctx context.Context, r *extauthz.Request) (extauthz.Answer, error) {
	req, err := CheckRequest(r, time.Now())
	if err != nil {
		return extauthz.Answer{}, err
	}
	resp, err := c.client.Check(ctx, req, grpc.WaitForReady(false))
	if err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: envoy Check: %w", err)
	}
	return Answer(resp)
}

// CheckRequest describes r as Envoy's ext_authz HTTP filter would, at
// time now.
func CheckRequest(r *extauthz.Request, now time.Time) (*authv3.CheckRequest, error) {
	path := r.Path
	if r.Query != "" {
		path += "?" + r.Query
	}
	attrs := &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:   socketAddress(r.Source.Address),
			Service:   r.Source.Service,
			Principal: r.Source.Principal,
		},
		Destination: &authv3.AttributeContext_Peer{Service: r.Service},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(now),
			Http: &authv3.AttributeContext_HttpRequest{
				Method:   r.Method,
				Headers:  r.Headers,
				Path:     path,
				Host:     r.Host,
				Scheme:   r.Scheme,
				Protocol: r.HTTPVersion,
			},
		},
	}
	if r.Claims != nil {
		var payload map[string]any
		if err := json.Unmarshal(r.Claims.JSON(), &payload); err != nil {
			return nil, fmt.Errorf("extauthz: claims: %w", err)
		}
		st, err := structpb.NewStruct(map[string]any{JWTPayloadKey: payload})
		if err != nil {
			return nil, fmt.Errorf("extauthz: claims: %w", err)
		}
		attrs.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{JWTMetadataNamespace: st}}
	}
	return &authv3.CheckRequest{Attributes: attrs}, nil
}

func socketAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}

// Answer reads a server's CheckResponse.
func Answer(resp *authv3.CheckResponse) (extauthz.Answer, error) {
	if resp == nil || resp.GetStatus() == nil && resp.GetHttpResponse() == nil {
		return extauthz.Answer{}, errors.New("extauthz: envoy: the server answered neither a status nor a response")
	}
	if resp.GetErrorResponse() != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: envoy: the server reported an error (status %d)", resp.GetErrorResponse().GetStatus().GetCode())
	}
	ans := extauthz.Answer{Allow: codes.Code(resp.GetStatus().GetCode()) == codes.OK}
	if msg := resp.GetStatus().GetMessage(); msg != "" {
		ans.Reason = msg
	}
	if ok := resp.GetOkResponse(); ok != nil {
		if !ans.Allow {
			return extauthz.Answer{}, fmt.Errorf("extauthz: envoy: the server answered status %s with an ok_response", codes.Code(resp.GetStatus().GetCode()))
		}
		ans.RequestHeaders = headers(ok.GetHeaders())
		ans.RemoveHeaders = ok.GetHeadersToRemove()
		ans.ResponseHeaders = headers(ok.GetResponseHeadersToAdd())
	}
	if denied := resp.GetDeniedResponse(); denied != nil {
		if ans.Allow {
			return extauthz.Answer{}, errors.New("extauthz: envoy: the server answered status OK with a denied_response")
		}
		ans.Status = int(denied.GetStatus().GetCode())
		ans.Body = denied.GetBody()
		ans.ResponseHeaders = headers(denied.GetHeaders())
	}
	if v, ok := resp.GetDynamicMetadata().GetFields()[CacheTTLKey]; ok {
		secs := v.GetNumberValue()
		if _, isNumber := v.GetKind().(*structpb.Value_NumberValue); !isNumber || math.IsNaN(secs) || secs < 0 {
			return extauthz.Answer{}, fmt.Errorf("extauthz: envoy: dynamic_metadata.%s is not a number of seconds", CacheTTLKey)
		}
		ans.CacheFor = time.Duration(min(secs, 86400) * float64(time.Second))
	}
	return ans, nil
}

func headers(opts []*corev3.HeaderValueOption) []extauthz.Header {
	out := make([]extauthz.Header, 0, len(opts))
	for _, o := range opts {
		h := extauthz.Header{Name: o.GetHeader().GetKey(), Value: o.GetHeader().GetValue()}
		if raw := o.GetHeader().GetRawValue(); h.Value == "" && len(raw) > 0 {
			h.Value = string(raw)
		}
		switch {
		case o.GetAppend() != nil && o.GetAppend().GetValue():
			h.Action = extauthz.AppendHeader
		case o.GetAppend() != nil:
			h.Action = extauthz.SetHeader
		case o.GetAppendAction() == corev3.HeaderValueOption_ADD_IF_ABSENT:
			h.Action = extauthz.AddHeaderIfAbsent
		case o.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			h.Action = extauthz.SetHeaderIfPresent
		default:
			// Envoy: in ext_authz responses a header replaces the
			// request's unless the server asks to append.
			h.Action = extauthz.SetHeader
		}
		out = append(out, h)
	}
	return out
}
