package inbound

import (
	"context"
	"errors"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
)

// EndUserStats counts what end-user authentication and external
// authorization refused (the admin endpoint shows them as
// admin.EndUserStatus).
type EndUserStats struct {
	// Unauthenticated counts requests refused for a missing or invalid
	// token (401), or because the keys to check it were unavailable (503).
	Unauthenticated uint64
	// ExternalDenied counts requests the external authorization server
	// denied; ExternalFailed those it gave no usable answer for (the
	// failure mode then decided); ExternalCached the decisions reused.
	ExternalDenied uint64
	ExternalFailed uint64
	ExternalCached uint64
}

// EndUserStats returns the counters of end-user authentication and
// external authorization.
func (g *Gate) EndUserStats() EndUserStats {
	return EndUserStats{
		Unauthenticated: g.unauthenticated.Load(),
		ExternalDenied:  g.externalDenied.Load(),
		ExternalFailed:  g.externalFailed.Load(),
		ExternalCached:  g.externalCached.Load(),
	}
}

// Request is what the checks shared by HTTP and gRPC know of one call.
type Request struct {
	// Protocol is observe.ProtocolHTTP or observe.ProtocolGRPC.
	Protocol string
	// Method and Path are what authorization rules match.
	Method, Path string
	// Peer is the caller's verified SPIFFE ID, zero when it proved none.
	Peer spiffeid.ID
	// Caller is the calling service, for logs and the external server.
	Caller string
}

// who names the caller in logs.
func (r *Request) who() string {
	if r.Peer.IsZero() {
		return "anonymous"
	}
	return r.Peer.String()
}

// RefusedToken logs why authentication refused a call, at most once a
// second, and counts it. A missing token is not logged: it is what every
// first request of a browser looks like.
func (g *Gate) RefusedToken(sec *Security, r *Request, err error) {
	g.unauthenticated.Add(1)
	if errors.Is(err, jwtauth.ErrNoToken) {
		return
	}
	if n, ok := g.tokenLog.allow(time.Now()); ok {
		sec.Logger.Info("weft: refused an end-user token", "caller", r.who(), "method", r.Method, "path", r.Path, "reason", err.Error(), "not_logged_since_last", n)
	}
}

// Decide applies the authorization rules: it returns the reason and true
// for a call they refuse; dry-run denials are counted, logged and let
// through.
func (g *Gate) Decide(sec *Security, r *Request, user *claims.Set) (string, bool) {
	if sec.Authorization == nil {
		return "", false
	}
	d := sec.Authorization.Decide(r.Peer, r.Method, r.Path, user)
	if d.Allow {
		return "", false
	}
	if !d.Enforced {
		g.wouldDeny.Add(1)
		if n, ok := g.dryRunLog.allow(time.Now()); ok {
			sec.Logger.Info("weft: authorization dry-run: request would be denied", "caller", r.who(), "method", r.Method, "path", r.Path, "reason", d.Reason, "not_logged_since_last", n)
		}
		return "", false
	}
	g.denied.Add(1)
	sec.Logger.Debug("weft: authorization denied a request", "caller", r.who(), "method", r.Method, "path", r.Path, "reason", d.Reason)
	return d.Reason, true
}

// AuthorizeExternally asks the external authorization server about a
// call, counts and logs the outcome, and returns the decision; ok is
// false when the call must be refused.
func (g *Gate) AuthorizeExternally(ctx context.Context, sec *Security, r *Request, req *extauthz.Request) (extauthz.Decision, bool) {
	d := sec.External.Authorize(ctx, req)
	if d.Cached {
		g.externalCached.Add(1)
	}
	switch {
	case d.Failed:
		g.externalFailed.Add(1)
		if n, ok := g.externalLog.allow(time.Now()); ok {
			sec.Logger.Warn("weft: external authorization gave no answer; the failure mode decided", "caller", r.who(), "method", r.Method, "path", r.Path,
				"allowed", d.Allow, "err", errString(d.Err), "not_logged_since_last", n)
		}
	case !d.Allow:
		g.externalDenied.Add(1)
		sec.Logger.Debug("weft: external authorization denied a request", "caller", r.who(), "method", r.Method, "path", r.Path, "reason", d.Reason)
	}
	return d, d.Allow
}

// ExternalRequest describes a call for the external server; headers are
// the request's headers or the call's metadata.
func ExternalRequest(sec *Security, r *Request, headers map[string][]string, user *claims.Set) *extauthz.Request {
	req := &extauthz.Request{
		Service:  sec.Service,
		Protocol: r.Protocol,
		Method:   r.Method,
		Path:     r.Path,
		Scheme:   "http",
		Headers:  sec.External.Headers(headers),
		Source:   extauthz.Peer{Service: r.Caller},
		Claims:   user,
	}
	if !r.Peer.IsZero() {
		req.Source.Principal = r.Peer.String()
		req.Scheme = "https"
	}
	return req
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
