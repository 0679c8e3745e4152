package transport

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/internal/tracectx"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport/observe"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Inbound is the HTTP side of a node's inbound gate: the middleware every
// inbound HTTP request passes through. The gate (internal/inbound) holds
// the security settings, limits, observer and counters it applies, which
// the node's gRPC servers share.
type Inbound struct {
	gate *inbound.Gate
}

// NewInbound returns the middleware of g; if g is nil, of a gate of its
// own with no security, no limits and no observer.
func NewInbound(g *inbound.Gate) *Inbound {
	if g == nil {
		g = new(inbound.Gate)
	}
	return &Inbound{gate: g}
}

// Wrap returns h behind the node's inbound middleware.
//
// While the node drains, responses carry "Connection: close", so that
// keep-alive clients outside the mesh reconnect elsewhere instead of
// reusing a connection to a server that is about to stop. While the gate
// has no observer Wrap does not wrap the ResponseWriter; with one the
// wrapper passes Flusher, Hijacker and ReaderFrom on and unwraps for
// ResponseController, so they keep working. A panic in h is not recovered
// here; net/http handles it as it would without Weft.
func (in *Inbound) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { in.Serve(w, r, h) })
}

// Serve passes one request through the middleware to h; it is Wrap for
// callers that pick h per request.
func (in *Inbound) Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	g := in.gate
	g.Enter()
	defer g.Exit()
	var ow *observedWriter // the request's observation, nil when unobserved
	o := g.Observer()
	hop := retry.ReadHop(r.Header)
	hop.NoRetry = hop.NoRetry && !retry.NoRetry(r.Context())
	if o != nil {
		// The request's observation, its trace context, its hop context
		// and its copy with the new context: one allocation.
		st := new(observedRequest)
		now := time.Now()
		ctx := st.w.start(o, w, r, now, &st.trace)
		ow, w = &st.w, &st.w
		defer st.w.end()
		r = st.hop.apply(r, ctx, hop, now)
		defer st.hop.end()
		st.w.req = r
	} else if hop.HasTimeout || hop.NoRetry {
		st := new(hopRequest)
		r = st.apply(r, r.Context(), hop, time.Now())
		defer st.end()
	}
	if g.Draining() {
		w.Header().Set("Connection", "close")
	}
	if sec := g.Security(); sec != nil {
		var ok bool
		if r, ok = in.authorize(w, r, sec, ow); !ok {
			return
		}
	}
	if l := g.Limiter(); l != nil {
		ticket, rej := l.Acquire(r.Header.Get(engine.SourceHeader))
		if rej.Rejected() {
			limit.WriteRejection(w, rej)
			return
		}
		// Runs before the deferred cancel above: a request counts as
		// dropped only when its deadline passed or its client went away.
		start, ctx := time.Now(), r.Context()
		defer func() { ticket.Done(time.Since(start), ctx.Err() != nil) }()
	}
	h.ServeHTTP(w, r)
}

// hopRequest is a request whose context carries what the caller's hop
// headers say (its remaining time as the deadline, its retry mark), with
// that context: one allocation.
type hopRequest struct {
	req    http.Request
	ctx    retry.HopContext
	active bool
}

// apply returns r with ctx, under which the hop's context is made when
// the hop asks for one.
func (h *hopRequest) apply(r *http.Request, ctx context.Context, hop retry.Hop, now time.Time) *http.Request {
	if hop.HasTimeout || hop.NoRetry {
		h.ctx.Start(ctx, hop, now)
		ctx, h.active = &h.ctx, true
	}
	if ctx == r.Context() {
		return r
	}
	h.req = *r.WithContext(ctx) // inlined: the copy is made in place
	return &h.req
}

// end ends the hop's context, once the handler returned.
func (h *hopRequest) end() {
	if h.active {
		h.ctx.End()
	}
}

// observedRequest is an observed request's state: its observation, the
// trace context of a caller that sampled the trace out, and its hop
// context, in one allocation.
type observedRequest struct {
	hop   hopRequest
	w     observedWriter
	trace tracectx.Remote
}

// authorize puts the caller's verified identity into r's context and
// the Weft-Source header, authenticates the end user, applies the authorization
// rules and asks the external server. It answers the refusal and returns
// false for a request that must not go on; ow, when the request is
// observed, learns the claims to log.
func (in *Inbound) authorize(w http.ResponseWriter, r *http.Request, sec *inbound.Security, ow *observedWriter) (*http.Request, bool) {
	if sec == nil {
		return r, true
	}
	var peer spiffeid.ID
	verified := false
	if sec.Verify != nil { // without an identity no caller can be verified
		var ok bool
		if r, peer, verified, ok = identify(w, r, sec); !ok {
			return r, false
		}
	}
	req := inbound.Request{Protocol: observe.ProtocolHTTP, Method: r.Method, Path: r.URL.Path, Caller: r.Header.Get(engine.SourceHeader)}
	if verified {
		req.Peer = peer
		if ow != nil {
			ow.info.Peer = peer.String()
		}
	}
	var user *claims.Set
	if sec.Authentication != nil {
		res := sec.Authentication.AuthenticateHTTP(r.Context(), r.Header)
		if res.Err != nil {
			in.gate.RefusedToken(sec, &req, res.Err)
			writeUnauthenticated(w, sec, res)
			return r, false
		}
		if user = res.Claims; user != nil {
			r = r.WithContext(claims.NewContext(r.Context(), user))
			if ow != nil {
				ow.info.Claims = res.LogAttrs
			}
		}
	}
	if sec.Authorization.Rules() > 0 && hasEncodedSeparator(r.URL.RawPath) {
		// Rules match the decoded path, routers the escaped one: an
		// encoded '/' would let the two disagree about which resource
		// is asked for.
		http.Error(w, "weft: bad request: encoded '/' or '\\' in the path of a request to a service with authorization rules", http.StatusBadRequest)
		return r, false
	}
	if reason, refused := in.gate.Decide(sec, &req, user); refused {
		http.Error(w, "weft: forbidden: "+reason, http.StatusForbidden)
		return r, false
	}
	if sec.External != nil {
		ereq := inbound.ExternalRequest(sec, &req, r.Header, user)
		ereq.Query, ereq.Host, ereq.HTTPVersion = r.URL.RawQuery, r.Host, r.Proto
		ereq.Source.Address = r.RemoteAddr
		if r.TLS != nil {
			ereq.Scheme = "https"
		}
		d, ok := in.gate.AuthorizeExternally(r.Context(), sec, &req, ereq)
		d.ApplyToResponse(w.Header())
		if !ok {
			writeExternalDenial(w, d)
			return r, false
		}
		d.ApplyToRequest(r.Header, false)
	}
	if sec.Authentication != nil {
		sec.Authentication.StripHTTP(r.Header)
	}
	return r, true
}

// identify finds the caller's verified SPIFFE ID, records it in r's
// context and in the Weft-Source header, and enforces a strict mode. It returns
// false after answering a request that must not go on.
func identify(w http.ResponseWriter, r *http.Request, sec *inbound.Security) (*http.Request, spiffeid.ID, bool, bool) {
	peer, verified := security.PeerFromContext(r.Context())
	if !verified && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// The connection's first request. Whoever terminated TLS, only a
		// chain this node verifies names a caller; servers the node runs
		// remember the result for the connection's later requests.
		if id, err := sec.Verify(r.TLS.PeerCertificates); err == nil {
			peer, verified = id, true
			if !security.SetConnPeer(r.Context(), peer) {
				r = r.WithContext(security.WithPeer(r.Context(), peer))
			}
		}
	}
	if verified && r.TLS != nil && time.Now().After(r.TLS.PeerCertificates[0].NotAfter) {
		// The connection outlived the SVID its caller proved itself with
		// at the handshake: this request is served, and the caller
		// reconnects with its renewed SVID for the next.
		w.Header().Set("Connection", "close")
	}
	if sec.RequireTLS && !verified {
		w.Header().Set("Connection", "close")
		http.Error(w, "weft: "+sec.Service+" accepts mutual TLS only (mtls: strict): call it through a Weft client that has a mesh identity", http.StatusBadRequest)
		return r, peer, verified, false
	}
	if verified {
		name := ""
		if sec.CallerName != nil {
			name, _ = sec.CallerName(peer)
		}
		if name == "" {
			name = peer.String()
		}
		// What a verified caller is replaces what it says it is.
		if r.Header.Get(engine.SourceHeader) != name {
			r.Header.Set(engine.SourceHeader, name)
		}
	} else if r.Header.Get(engine.SourceHeader) != "" {
		// Where identities are proven, an unproven name is not passed on
		// as if it were one, nor used to tell callers apart.
		r.Header.Del(engine.SourceHeader)
	}
	return r, peer, verified, true
}

// writeUnauthenticated answers a request whose token authentication
// refused: 401 with a WWW-Authenticate challenge and no reason (the log
// has it), or 503 while the keys to check tokens are unavailable.
func writeUnauthenticated(w http.ResponseWriter, sec *inbound.Security, res jwtauth.Result) {
	if res.Status() == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "weft: service unavailable: "+sec.Service+" cannot verify tokens yet; retry shortly", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("WWW-Authenticate", sec.Authentication.Challenge(res.Err))
	http.Error(w, "weft: unauthenticated: "+sec.Service+" needs a valid bearer token", http.StatusUnauthorized)
}

// writeExternalDenial answers a request the external server denied, or
// that it gave no answer for in deny mode.
func writeExternalDenial(w http.ResponseWriter, d extauthz.Decision) {
	status := d.DenialStatus()
	switch {
	case d.Failed:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "weft: service unavailable: external authorization gave no answer", status)
	case d.Body != "":
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		io.WriteString(w, d.Body)
	default:
		http.Error(w, "weft: forbidden: external authorization denied the request", status)
	}
}

// hasEncodedSeparator reports whether an escaped path encodes a path
// separator.
func hasEncodedSeparator(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] == '%' && (raw[i+1] == '2' && (raw[i+2] == 'F' || raw[i+2] == 'f') || raw[i+1] == '5' && (raw[i+2] == 'C' || raw[i+2] == 'c')) {
			return true
		}
	}
	return false
}
