package transport

import (
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/resilience/limit"
)

// InboundCall describes, for [Inbound.Admit], one inbound call that does
// not arrive as an *http.Request: a gRPC call.
type InboundCall struct {
	// Method and Path are what authorization rules match: for gRPC,
	// "POST" and the full method name ("/shop.Payments/Charge").
	Method, Path string
	// Peer is the caller's verified SPIFFE ID; the zero ID when it proved
	// none.
	Peer spiffeid.ID
	// Source is the calling service as the caller names itself (the
	// value of its Weft-Source header), used for per-caller limits when Peer is zero.
	Source string
}

// Refusal says why [Inbound.Admit] refused a call.
type Refusal struct {
	// Forbidden is authorization's reason when it denied the call, short
	// enough for an error message; "" when a limit refused it.
	Forbidden string
	// Limit is the limit that refused the call; the zero Rejection when
	// authorization did.
	Limit limit.Rejection
}

// Admission is a call [Inbound.Admit] let through. Its owner calls
// [Admission.End] exactly once, when the call has finished.
type Admission struct {
	// Caller is the name the call's per-caller limits were kept under:
	// the service the verified peer's ID names (or the ID itself), else
	// what the caller asserted, else "".
	Caller string

	in     *Inbound
	ticket limit.Ticket
	start  time.Time
}

// End reports that the call finished: dropped is true when it failed in a
// way that signals overload (its deadline passed, the client went away,
// the handler panicked), as the adaptive concurrency limit counts it.
func (a Admission) End(dropped bool) {
	if a.in == nil {
		return
	}
	a.ticket.Done(time.Since(a.start), dropped)
	a.in.inFlight.Add(-1)
}

// Admit passes one call of a protocol other than HTTP through the checks
// that [Inbound.Serve] applies to HTTP requests, in the same order and
// with the same counters: authorization by the rules in force (dry-run
// rules log and let the call through), then the inbound limits. It
// returns a non-nil Refusal for a call that must be refused, and
// otherwise an Admission whose End the caller must call.
//
// Admit is safe for concurrent use and allocates nothing for an admitted
// call.
func (in *Inbound) Admit(c InboundCall) (Admission, *Refusal) {
	in.inFlight.Add(1)
	in.served.Add(1)
	caller := c.Source
	verified := !c.Peer.IsZero()
	sec := in.security.Load()
	if verified {
		caller = ""
		if sec != nil && sec.CallerName != nil {
			caller, _ = sec.CallerName(c.Peer)
		}
		if caller == "" {
			caller = c.Peer.String()
		}
	}
	if sec != nil && sec.Authorization != nil {
		d := sec.Authorization.Decide(c.Peer, c.Method, c.Path)
		if !d.Allow {
			who := "anonymous"
			if verified {
				who = c.Peer.String()
			}
			if d.Enforced {
				in.denied.Add(1)
				in.inFlight.Add(-1)
				sec.Logger.Debug("weft: authorization denied a call", "caller", who, "method", c.Path, "reason", d.Reason)
				return Admission{}, &Refusal{Forbidden: d.Reason}
			}
			in.wouldDeny.Add(1)
			sec.Logger.Info("weft: authorization dry-run: call would be denied", "caller", who, "method", c.Path, "reason", d.Reason)
		}
	}
	a := Admission{Caller: caller, in: in, start: time.Now()}
	if l := in.limiter.Load(); l != nil {
		ticket, rej := l.Acquire(caller)
		if rej.Rejected() {
			in.inFlight.Add(-1)
			return Admission{}, &Refusal{Limit: rej}
		}
		a.ticket = ticket
	}
	return a, nil
}
