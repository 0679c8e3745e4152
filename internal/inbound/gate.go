package inbound

import (
	"crypto/x509"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport/observe"
)

// Gate is the server side of a node that every protocol shares: its
// security settings, its inbound limits, its observer, its draining mark
// and the counters of what it served and refused. Its zero value is ready
// to use: no identities, no rules, no limits, no observer.
//
// All methods are safe for concurrent use; the ones a call runs through
// take no lock.
type Gate struct {
	draining  atomic.Bool
	inFlight  atomic.Int64
	served    atomic.Uint64
	limiter   atomic.Pointer[limit.Limiter] // nil: no limits
	security  atomic.Pointer[Security]      // nil: no identities, no rules
	denied    atomic.Uint64
	wouldDeny atomic.Uint64
	dryRunLog logEvery                    // dry-run denials, logged at most once a second
	observer  atomic.Pointer[observerRef] // nil: nobody observes

	unauthenticated atomic.Uint64
	externalDenied  atomic.Uint64
	externalFailed  atomic.Uint64
	externalCached  atomic.Uint64
	tokenLog        logEvery // refused tokens, logged at most once a second
	externalLog     logEvery // failed external checks, likewise
}

// Security is what the server side knows of callers' identities, and how
// it checks them. Its checks run in this order: the caller's SPIFFE ID,
// the end user's token, the authorization rules, the external
// authorization server; the inbound limits come after.
type Security struct {
	// Authorization decides which callers may make which requests. If
	// nil, every request is allowed.
	Authorization *authz.Policy
	// Authentication, if not nil, verifies the end-user token of every
	// request: a request it refuses gets 401 (or 503 while the keys to
	// check tokens are unavailable), and a verified token's claims go in
	// the request's context ([claims.FromContext]), to the rules, to the
	// external server and, when the observer logs, to the access log.
	Authentication *jwtauth.Authenticator
	// External, if not nil, is asked about every request the rules
	// allowed, before the handler runs.
	External *extauthz.Authorizer
	// CallerName returns the service a verified caller's SPIFFE ID names,
	// used as the caller for per-caller rate limits and sent on to the
	// handler in the Weft-Source header in place of what the caller asserted. If
	// nil, or when it returns false, the ID itself is the name.
	CallerName func(spiffeid.ID) (string, bool)
	// Verify verifies a caller's certificate chain against the node's
	// trust bundles and returns the SPIFFE ID it proves. If nil, the node
	// has no identity: no caller is verified and the fields below are
	// ignored.
	Verify func(chain []*x509.Certificate) (spiffeid.ID, error)
	// RequireTLS refuses requests from callers that did not prove an
	// identity: the service is strict, and a plaintext connection accepted
	// while it was permissive must not outlive the change.
	RequireTLS bool
	// Service names the service served, in refusals.
	Service string
	// Logger receives authorization denials. If nil, they are not logged.
	Logger *slog.Logger
}

// logEvery lets one log line through per second and counts the others, so
// that a busy service's repeated event does not flood its logs.
type logEvery struct {
	last       atomic.Int64 // unix nanoseconds of the last line let through
	suppressed atomic.Uint64
}

// allow reports whether a line may be logged now, and how many were held
// back since the last one.
func (l *logEvery) allow(now time.Time) (uint64, bool) {
	last := l.last.Load()
	if now.UnixNano()-last < int64(time.Second) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// SetSecurity installs how callers are identified and authorized,
// replacing the previous settings atomically.
func (g *Gate) SetSecurity(s Security) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	g.security.Store(&s)
}

// Security returns the settings installed with SetSecurity, nil before
// any. The caller must not modify them.
func (g *Gate) Security() *Security { return g.security.Load() }

// AuthorizationStats counts the requests authorization refused, and
// those a dry-run rule set would have refused but let through.
func (g *Gate) AuthorizationStats() (denied, wouldDeny uint64) {
	return g.denied.Load(), g.wouldDeny.Load()
}

// SetLimits installs the inbound limits of the service, replacing the
// previous ones atomically (callers keep their remaining tokens); nil
// removes them. An invalid configuration is rejected and changes nothing.
func (g *Gate) SetLimits(cfg *limit.Config) error {
	if cfg == nil {
		g.limiter.Store(nil)
		return nil
	}
	if l := g.limiter.Load(); l != nil {
		return l.Update(*cfg)
	}
	l, err := limit.New(*cfg)
	if err != nil {
		return err
	}
	g.limiter.Store(l)
	return nil
}

// Limiter returns the inbound limits, nil when the service has none.
func (g *Gate) Limiter() *limit.Limiter { return g.limiter.Load() }

// LimitStats returns the counters of the inbound limits; ok is false when
// the service has none.
func (g *Gate) LimitStats() (s limit.Stats, ok bool) {
	if l := g.limiter.Load(); l != nil {
		return l.Stats(), true
	}
	return s, false
}

// observerRef holds an observer in an atomic pointer.
type observerRef struct{ observe.InboundObserver }

// SetObserver makes o see every call served from now on, whatever its
// protocol; nil stops observing. It may be called at any time.
func (g *Gate) SetObserver(o observe.InboundObserver) {
	if o == nil {
		g.observer.Store(nil)
		return
	}
	g.observer.Store(&observerRef{o})
}

// Observer returns the observer set with SetObserver, or nil.
func (g *Gate) Observer() observe.InboundObserver {
	if ref := g.observer.Load(); ref != nil {
		return ref.InboundObserver
	}
	return nil
}

// SetDraining switches draining behaviour on or off: while the node
// drains, servers ask clients to move their next calls elsewhere.
func (g *Gate) SetDraining(on bool) { g.draining.Store(on) }

// Draining reports whether the node drains.
func (g *Gate) Draining() bool { return g.draining.Load() }

// Enter counts a call that arrives and is now in flight; its server calls
// [Gate.Exit] when it has finished. [Gate.Admit] counts its calls itself.
func (g *Gate) Enter() {
	g.inFlight.Add(1)
	g.served.Add(1)
}

// Exit counts a call that Enter counted as finished.
func (g *Gate) Exit() { g.inFlight.Add(-1) }

// InFlight returns the number of calls being served.
func (g *Gate) InFlight() int64 { return g.inFlight.Load() }

// Served returns the number of calls received since the node started.
func (g *Gate) Served() uint64 { return g.served.Load() }
