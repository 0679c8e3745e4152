package rpc

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/transport/observe"
)

// healthPrefix starts the full method names of the standard health
// service. Health checks skip authorization and limits: a rule set or a
// busy instance must not make a healthy instance look down. They reveal
// only the serving status.
const healthPrefix = "/grpc.health.v1.Health/"

// ServerOptions returns the options of a mesh server, around the caller's
// own: first the mesh's interceptors, so that authorization, limits and
// deadlines apply before any interceptor in opts runs, then opts, then the
// mesh's transport credentials, which opts cannot replace.
//
// The interceptors put the caller's verified SPIFFE ID into the
// handler's context (security.PeerFromContext), verify the end user's
// token from the authorization metadata when the service asks for one
// (Unauthenticated with a www-authenticate trailer when it is missing or
// invalid; its claims go into the handler's context), refuse calls that
// the authorization rules deny (PermissionDenied; rules match the method
// "POST" and the full method name as the path), that the external
// authorization server denies (the code of its HTTP status, or
// Unavailable when it gave no answer in deny mode) or that the inbound
// limits refuse (ResourceExhausted for a rate limit, Unavailable for a
// concurrency limit, with a retry-after trailer in seconds), turn the
// weft-timeout metadata a gateway may forward into a deadline (gRPC's own
// deadline travels as usual), and mark the context of a call its caller
// retries (weft-retry-owner) so that the handler's own calls do not retry
// too. When cfg.Inbound has an observer, every call but health checks is
// reported to it (StartInbound before authorization and limits, with the
// incoming metadata as the carrier; EndInbound with the gRPC code and the
// caller), and the handler runs with the context StartInbound returned.
func ServerOptions(cfg Config, opts ...grpc.ServerOption) []grpc.ServerOption {
	s := &server{in: cfg.Inbound}
	all := make([]grpc.ServerOption, 0, len(opts)+3)
	all = append(all, grpc.ChainUnaryInterceptor(s.unary), grpc.ChainStreamInterceptor(s.stream))
	all = append(all, opts...)
	return append(all, grpc.Creds(newServerCredentials(cfg)))
}

type server struct {
	in *inbound.Gate // nil: no authorization or limits
}

func (s *server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, obs, rec := s.observeInbound(ctx, info.FullMethod)
	if obs == nil {
		return s.serveUnary(ctx, nil, req, info, handler)
	}
	resp, err := s.serveUnary(ctx, rec, req, info, handler)
	endInbound(ctx, obs, rec, err)
	return resp, err
}

// serveUnary serves a unary call; rec, when the call is observed, learns
// who the caller is.
func (s *server) serveUnary(ctx context.Context, rec *observe.InboundInfo, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, adm, cancel, err := s.admit(ctx, rec, info.FullMethod)
	if err != nil {
		return nil, err
	}
	defer cancel()
	finished := false
	// A panic, a passed deadline or a caller that gave up counts as
	// dropped for the adaptive limit, as on the HTTP side.
	defer func() { adm.End(!finished || ctx.Err() != nil) }()
	resp, err := handler(ctx, req)
	finished = true
	return resp, err
}

func (s *server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	orig := ss.Context()
	ctx, obs, rec := s.observeInbound(orig, info.FullMethod)
	if obs == nil {
		return s.serveStream(srv, ss, orig, nil, info, handler)
	}
	err := s.serveStream(srv, ss, ctx, rec, info, handler)
	endInbound(ctx, obs, rec, err)
	return err
}

// serveStream serves a stream whose handler's context starts as ctx; rec,
// when the call is observed, learns who the caller is.
func (s *server) serveStream(srv any, ss grpc.ServerStream, ctx context.Context, rec *observe.InboundInfo, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	orig := ss.Context()
	ctx, adm, cancel, err := s.admit(ctx, rec, info.FullMethod)
	if err != nil {
		return err
	}
	defer cancel()
	if ctx != orig {
		ss = &serverStream{ServerStream: ss, ctx: ctx}
	}
	finished := false
	defer func() { adm.End(!finished || ctx.Err() != nil) }()
	err = handler(srv, ss)
	finished = true
	return err
}

// serverStream is a stream whose context the interceptor replaced.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

func noCancel() {}

// admit applies the inbound middleware to one call and returns the
// handler's context, the admission to end when the call ends and the
// cancel function of a deadline it set, or the refusal as a status error.
// It tells rec, when the call is observed, who the caller is: the service
// its verified identity maps to, else the one it asserts.
func (s *server) admit(ctx context.Context, rec *observe.InboundInfo, fullMethod string) (context.Context, inbound.Admission, context.CancelFunc, error) {
	cancel := context.CancelFunc(noCancel)
	// The same hop context as HTTP's: gRPC's own deadline travels as
	// usual, and a weft-timeout a gateway forwarded bounds it further.
	var hop retry.Hop
	if v := metadata.ValueFromIncomingContext(ctx, timeoutKey); len(v) > 0 {
		if d, err := retry.ParseTimeout(v[0]); err == nil {
			hop.Timeout, hop.HasTimeout = d, true
		}
	}
	if v := metadata.ValueFromIncomingContext(ctx, ownerKey); len(v) > 0 && v[0] != "" && !retry.NoRetry(ctx) {
		hop.NoRetry = true
	}
	if hop.HasTimeout || hop.NoRetry {
		hc := new(retry.HopContext)
		hc.Start(ctx, hop, time.Now())
		ctx, cancel = hc, hc.End
	}
	id := peerID(ctx)
	if !id.IsZero() {
		ctx = security.WithPeer(ctx, id)
	}
	if s.in == nil || strings.HasPrefix(fullMethod, healthPrefix) {
		return ctx, inbound.Admission{}, cancel, nil
	}
	var source string
	if v := metadata.ValueFromIncomingContext(ctx, sourceKey); len(v) > 0 {
		source = v[0]
	}
	call := inbound.Call{Method: "POST", Path: fullMethod, Peer: id, Source: source, Metadata: incomingMetadata}
	if p, ok := peer.FromContext(ctx); ok {
		call.Addr = p.Addr
		_, call.TLS = p.AuthInfo.(credentials.TLSInfo)
	}
	adm, ref := s.in.Admit(ctx, call)
	if rec != nil {
		rec.Source, rec.Peer = source, id.String()
		if !id.IsZero() {
			// A refused call has no admission to name its caller.
			rec.Source = adm.Caller
			if ref != nil {
				rec.Source = id.String()
			}
		}
		rec.Claims = adm.LogAttrs
	}
	if ref != nil {
		cancel()
		return ctx, adm, noCancel, refusal(ctx, ref)
	}
	md := adm.Metadata
	if !id.IsZero() && source != adm.Caller {
		// What a verified caller is replaces what it says it is.
		if md == nil {
			md, _ = metadata.FromIncomingContext(ctx)
		}
		md[sourceKey] = []string{adm.Caller}
	}
	if md != nil {
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	if adm.Claims != nil {
		ctx = claims.NewContext(ctx, adm.Claims)
	}
	if len(adm.ResponseHeaders) > 0 {
		_ = grpc.SetHeader(ctx, responseMetadata(adm.ResponseHeaders))
	}
	return ctx, adm, cancel, nil
}

// incomingMetadata returns a copy of the call's incoming metadata.
func incomingMetadata(ctx context.Context) map[string][]string {
	md, _ := metadata.FromIncomingContext(ctx)
	return md
}

// peerID returns the SPIFFE ID the caller proved in the connection's
// mutual TLS handshake, or the zero ID.
func peerID(ctx context.Context) spiffeid.ID {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return spiffeid.ID{}
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || info.SPIFFEID == nil {
		return spiffeid.ID{}
	}
	id, err := spiffeid.FromURI(info.SPIFFEID)
	if err != nil {
		return spiffeid.ID{}
	}
	return id
}

// refusal returns the status error of a refused call, with the trailer
// that tells a rate-limited or overloaded caller when to come back, the
// challenge of an unauthenticated one, and the headers an external
// server asked for.
func refusal(ctx context.Context, r *inbound.Refusal) error {
	switch {
	case r.Unauthenticated != nil:
		if r.IsKeysUnavailable() {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(retryAfterKey, "1"))
			return status.Error(codes.Unavailable, "weft: service unavailable: cannot verify tokens yet; retry shortly")
		}
		_ = grpc.SetTrailer(ctx, metadata.Pairs("www-authenticate", r.Challenge))
		return status.Error(codes.Unauthenticated, "weft: unauthenticated: a valid bearer token is required in the authorization metadata")
	case r.External != nil:
		d := r.External
		if len(d.ResponseHeaders) > 0 {
			_ = grpc.SetTrailer(ctx, responseMetadata(d.ResponseHeaders))
		}
		if d.Failed {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(retryAfterKey, "1"))
			return status.Error(codes.Unavailable, "weft: service unavailable: external authorization gave no answer")
		}
		msg := d.Body
		if msg == "" {
			msg = "weft: forbidden: external authorization denied the call"
		}
		code := Code(d.DenialStatus())
		if code == codes.Unknown || code == codes.Internal || code == codes.OK {
			code = codes.PermissionDenied
		}
		return status.Error(code, msg)
	case !r.Limit.Rejected():
		return status.Error(codes.PermissionDenied, "weft: forbidden: "+r.Forbidden)
	}
	secs := max(1, int((r.Limit.RetryAfter+time.Second-1)/time.Second))
	_ = grpc.SetTrailer(ctx, metadata.Pairs(retryAfterKey, strconv.Itoa(secs)))
	switch r.Limit.Reason {
	case limit.CallerRate, limit.TotalRate:
		return status.Errorf(codes.ResourceExhausted, "weft: too many requests: rate limit exceeded (%s); retry after %d s", r.Limit.Reason, secs)
	}
	return status.Errorf(codes.Unavailable, "weft: service overloaded: too many calls in flight (%s); retry after %d s", r.Limit.Reason, secs)
}

// responseMetadata turns headers an external server asked to send into
// metadata.
func responseMetadata(hs []extauthz.Header) metadata.MD {
	md := metadata.MD{}
	for _, h := range hs {
		if h.Action == extauthz.AppendHeader {
			md.Append(h.Name, h.Value)
		} else {
			md.Set(h.Name, h.Value)
		}
	}
	return md
}
