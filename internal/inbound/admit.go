package inbound

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport/observe"
)

// Call describes, for [Gate.Admit], one inbound call that does not arrive
// as an *http.Request: a gRPC call.
type Call struct {
	// Method and Path are what authorization rules match: for gRPC,
	// "POST" and the full method name ("/shop.Payments/Charge").
	Method, Path string
	// Peer is the caller's verified SPIFFE ID; the zero ID when it proved
	// none.
	Peer spiffeid.ID
	// Source is the calling service as the caller names itself (the
	// value of its Weft-Source header), used for per-caller limits when Peer is zero.
	Source string
	// Metadata returns the call's own copy of its incoming metadata, read
	// from the ctx given to Admit, keys in lower case: the end-user token is read from it and the external
	// server told about it, and Admit removes the token from it (unless
	// the policy forwards it) and applies the external server's header
	// changes. Admit calls it at most once, and only when the service
	// authenticates end users or asks an external server; the copy it
	// changed is then Admission.Metadata. If nil, the call has none.
	Metadata func(ctx context.Context) map[string][]string
	// Addr is the caller's address, for the external server; nil when
	// unknown.
	Addr net.Addr
	// TLS reports whether the call arrived over TLS.
	TLS bool
}

// Refusal says why [Gate.Admit] refused a call.
type Refusal struct {
	// Forbidden is authorization's reason when it denied the call, short
	// enough for an error message; "" when a limit refused it.
	Forbidden string
	// Limit is the limit that refused the call; the zero Rejection when
	// authorization did.
	Limit limit.Rejection
	// Unauthenticated is authentication's error when it refused the
	// call's token: jwtauth.ErrNoToken, a *jwtauth.TokenError, or one
	// wrapping jwtauth.ErrKeysUnavailable. Challenge is then the
	// WWW-Authenticate value to send.
	Unauthenticated error
	Challenge       string
	// External is the external server's decision when it refused the
	// call.
	External *extauthz.Decision
}

// Admission is a call [Gate.Admit] let through. Its owner calls
// [Admission.End] exactly once, when the call has finished.
type Admission struct {
	// Caller is the name the call's per-caller limits were kept under:
	// the service the verified peer's ID names (or the ID itself), else
	// what the caller asserted, else "".
	Caller string
	// Claims are the call's verified end-user claims, nil without; the
	// handler's context should carry them ([claims.NewContext]).
	Claims *claims.Set
	// LogAttrs are the claims the access log shows.
	LogAttrs []slog.Attr
	// ResponseHeaders are headers the external server asked to send to
	// the caller.
	ResponseHeaders []extauthz.Header
	// Metadata is the copy of the call's metadata Admit read and
	// changed, for the handler's context; nil when Admit did not read it.
	Metadata map[string][]string

	gate   *Gate
	ticket limit.Ticket
	start  time.Time
}

// End reports that the call finished: dropped is true when it failed in a
// way that signals overload (its deadline passed, the client went away,
// the handler panicked), as the adaptive concurrency limit counts it.
func (a Admission) End(dropped bool) {
	if a.gate == nil {
		return
	}
	a.ticket.Done(time.Since(a.start), dropped)
	a.gate.Exit()
}

// Admit passes one call of a protocol other than HTTP through the checks
// that the HTTP middleware applies to requests, in the same order, with
// the same code and counters: end-user authentication, the authorization
// rules (dry-run rules log and let the call through), the external
// authorization server, then the inbound limits. It returns a non-nil
// Refusal for a call that must be refused, and otherwise an Admission
// whose End the caller must call. ctx bounds the waits of authentication
// (a key set being fetched) and of the external server.
//
// Admit is safe for concurrent use. Without end-user authentication and
// external authorization it allocates nothing for an admitted call.
func (g *Gate) Admit(ctx context.Context, c Call) (Admission, *Refusal) {
	g.Enter()
	caller := c.Source
	verified := !c.Peer.IsZero()
	sec := g.security.Load()
	if verified {
		caller = ""
		if sec != nil && sec.CallerName != nil {
			caller, _ = sec.CallerName(c.Peer)
		}
		if caller == "" {
			caller = c.Peer.String()
		}
	}
	a := Admission{Caller: caller, gate: g}
	if sec != nil {
		if ref := g.admitSecurity(ctx, sec, c, &a); ref != nil {
			g.Exit()
			return Admission{}, ref
		}
	}
	a.start = time.Now()
	if l := g.limiter.Load(); l != nil {
		ticket, rej := l.Acquire(caller)
		if rej.Rejected() {
			g.Exit()
			return Admission{}, &Refusal{Limit: rej}
		}
		a.ticket = ticket
	}
	return a, nil
}

// admitSecurity runs a call through authentication, the rules and the
// external server, filling a; it returns the refusal of a call that must
// not go on.
func (g *Gate) admitSecurity(ctx context.Context, sec *Security, c Call, a *Admission) *Refusal {
	req := Request{Protocol: observe.ProtocolGRPC, Method: c.Method, Path: c.Path, Peer: c.Peer, Caller: a.Caller}
	if sec.Authentication != nil || sec.External != nil {
		if c.Metadata != nil {
			a.Metadata = c.Metadata(ctx)
		}
		if a.Metadata == nil {
			a.Metadata = map[string][]string{}
		}
	}
	if sec.Authentication != nil {
		res := sec.Authentication.AuthenticateMetadata(ctx, a.Metadata)
		if res.Err != nil {
			g.RefusedToken(sec, &req, res.Err)
			return &Refusal{Unauthenticated: res.Err, Challenge: sec.Authentication.Challenge(res.Err)}
		}
		a.Claims, a.LogAttrs = res.Claims, res.LogAttrs
	}
	if reason, refused := g.Decide(sec, &req, a.Claims); refused {
		return &Refusal{Forbidden: reason}
	}
	if sec.External != nil {
		ereq := ExternalRequest(sec, &req, a.Metadata, a.Claims)
		ereq.HTTPVersion = "HTTP/2"
		if v := a.Metadata[":authority"]; len(v) > 0 {
			ereq.Host = v[0]
		}
		if c.Addr != nil {
			ereq.Source.Address = c.Addr.String()
		}
		if c.TLS {
			ereq.Scheme = "https"
		}
		d, ok := g.AuthorizeExternally(ctx, sec, &req, ereq)
		if !ok {
			return &Refusal{External: &d}
		}
		d.ApplyToRequest(a.Metadata, true)
		a.ResponseHeaders = d.ResponseHeaders
	}
	if sec.Authentication != nil {
		sec.Authentication.StripMetadata(a.Metadata)
	}
	return nil
}

// IsKeysUnavailable reports whether a refusal's authentication error
// means the keys to check tokens are unavailable (503, UNAVAILABLE)
// rather than a bad token.
func (r *Refusal) IsKeysUnavailable() bool {
	return r != nil && jwtauth.Result{Err: r.Unauthenticated}.Status() == 503
}
