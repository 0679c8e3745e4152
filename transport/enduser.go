package transport

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
// authorization refused.
type EndUserStats struct {
	// Unauthenticated counts requests refused for a missing or invalid
	// token (401), or because the keys to check it were unavailable (503).
	Unauthenticated uint64 `json:"unauthenticated"`
	// ExternalDenied counts requests the external authorization server
	// denied; ExternalFailed those it gave no usable answer for (the
	// failure mode then decided); ExternalCached the decisions reused.
	ExternalDenied uint64 `json:"externalDenied"`
	ExternalFailed uint64 `json:"externalFailed"`
	ExternalCached uint64 `json:"externalCached"`
}

// EndUserStats returns the counters of end-user authentication and
// external authorization.
func (in *Inbound) EndUserStats() EndUserStats {
	return EndUserStats{
		Unauthenticated: in.unauthenticated.Load(),
		ExternalDenied:  in.externalDenied.Load(),
		ExternalFailed:  in.externalFailed.Load(),
		ExternalCached:  in.externalCached.Load(),
	}
}

// request is what the checks shared by HTTP and gRPC know of one request.
type request struct {
	protocol     string
	method, path string
	peer         spiffeid.ID // zero when the caller proved none
	caller       string      // the calling service, for logs and the external server
}

// who names the caller in logs.
func (r *request) who() string {
	if r.peer.IsZero() {
		return "anonymous"
	}
	return r.peer.String()
}

// refusedToken logs why authentication refused a request, at most once a
// second, and counts it. A missing token is not logged: it is what every
// first request of a browser looks like.
func (in *Inbound) refusedToken(sec *InboundSecurity, r *request, err error) {
	in.unauthenticated.Add(1)
	if errors.Is(err, jwtauth.ErrNoToken) {
		return
	}
	if n, ok := in.tokenLog.allow(time.Now()); ok {
		sec.Logger.Info("weft: refused an end-user token", "caller", r.who(), "method", r.method, "path", r.path, "reason", err.Error(), "not_logged_since_last", n)
	}
}

// decide applies the authorization rules: it returns the reason and true
// for a request they refuse; dry-run denials are counted, logged and let
// through.
func (in *Inbound) decide(sec *InboundSecurity, r *request, user *claims.Set) (string, bool) {
	if sec.Authorization == nil {
		return "", false
	}
	d := sec.Authorization.Decide(r.peer, r.method, r.path, user)
	if d.Allow {
		return "", false
	}
	if !d.Enforced {
		in.wouldDeny.Add(1)
		if n, ok := in.dryRunLog.allow(time.Now()); ok {
			sec.Logger.Info("weft: authorization dry-run: request would be denied", "caller", r.who(), "method", r.method, "path", r.path, "reason", d.Reason, "not_logged_since_last", n)
		}
		return "", false
	}
	in.denied.Add(1)
	sec.Logger.Debug("weft: authorization denied a request", "caller", r.who(), "method", r.method, "path", r.path, "reason", d.Reason)
	return d.Reason, true
}

// authorizeExternally asks the external authorization server about a
// request, counts and logs the outcome, and returns the decision; ok is
// false when the request must be refused.
func (in *Inbound) authorizeExternally(ctx context.Context, sec *InboundSecurity, r *request, req *extauthz.Request) (extauthz.Decision, bool) {
	d := sec.External.Authorize(ctx, req)
	if d.Cached {
		in.externalCached.Add(1)
	}
	switch {
	case d.Failed:
		in.externalFailed.Add(1)
		if n, ok := in.externalLog.allow(time.Now()); ok {
			sec.Logger.Warn("weft: external authorization gave no answer; the failure mode decided", "caller", r.who(), "method", r.method, "path", r.path,
				"allowed", d.Allow, "err", errString(d.Err), "not_logged_since_last", n)
		}
	case !d.Allow:
		in.externalDenied.Add(1)
		sec.Logger.Debug("weft: external authorization denied a request", "caller", r.who(), "method", r.method, "path", r.path, "reason", d.Reason)
	}
	return d, d.Allow
}

// externalRequest describes a request for the external server; headers
// are the request's headers or metadata.
func externalRequest(sec *InboundSecurity, r *request, headers map[string][]string, user *claims.Set) *extauthz.Request {
	req := &extauthz.Request{
		Service:  sec.Service,
		Protocol: r.protocol,
		Method:   r.method,
		Path:     r.path,
		Scheme:   "http",
		Headers:  sec.External.Headers(headers),
		Source:   extauthz.Peer{Service: r.caller},
		Claims:   user,
	}
	if !r.peer.IsZero() {
		req.Source.Principal = r.peer.String()
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
