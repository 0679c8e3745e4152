package extauthz

import (
	"context"
	"net/http"
	"time"

	"github.com/weftmesh/weft/security/claims"
)

// Request is what a server is told about one request to authorize.
type Request struct {
	// Service is the service asked, the destination.
	Service string
	// Protocol is "http" or "grpc".
	Protocol string
	// Method is the HTTP method; "POST" for gRPC.
	Method string
	// Path is the URL path, decoded; for gRPC the full method name
	// ("/shop.Payments/Charge").
	Path string
	// Query is the URL's raw query, without '?'; "" for gRPC.
	Query string
	// Host is the request's Host, or the gRPC :authority.
	Host string
	// Scheme is "https" for a request over TLS, else "http".
	Scheme string
	// HTTPVersion is "HTTP/1.1", "HTTP/2", ...
	HTTPVersion string
	// Headers holds the headers sent to the server: names in lower case,
	// values of repeated headers joined with ",", only those the Config
	// lists (all when it lists none).
	Headers map[string]string
	// Source is the caller.
	Source Peer
	// Claims are the request's verified end-user claims; nil without.
	Claims *claims.Set
}

// Peer is the calling service, as the mesh knows it.
type Peer struct {
	// Principal is its verified SPIFFE ID; "" when it proved none.
	Principal string
	// Service is the service its ID names, or what its Weft client
	// asserted when it proved none; "" when unknown.
	Service string
	// Address is its host:port.
	Address string
}

// Header is one header a server asks to add.
type Header struct {
	Name, Value string
	// Action says how the value meets those already present.
	Action HeaderAction
}

// HeaderAction says how a [Header] is added.
type HeaderAction int

const (
	// SetHeader replaces the header's values, adding it when absent.
	SetHeader HeaderAction = iota
	// AppendHeader adds the value to those present.
	AppendHeader
	// AddHeaderIfAbsent adds the header only when it is absent.
	AddHeaderIfAbsent
	// SetHeaderIfPresent replaces the values of a header present, and
	// adds nothing otherwise.
	SetHeaderIfPresent
)

// Answer is a server's decision, as a [Checker] returns it.
type Answer struct {
	// Allow says whether the request may go on.
	Allow bool
	// Status is the HTTP status of a denial, from 400 to 599; 0 means 403.
	Status int
	// Body is the body of a denial; "" means Weft's own short text.
	Body string
	// RequestHeaders are set on (or appended to) an allowed request
	// before the handler gets it.
	RequestHeaders []Header
	// RemoveHeaders are removed from an allowed request.
	RemoveHeaders []string
	// ResponseHeaders are added to the response, allowed or denied.
	ResponseHeaders []Header
	// CacheFor is how long the server allows the answer to be reused; 0
	// forbids it.
	CacheFor time.Duration
	// Reason is a short explanation for the log, never sent to the
	// caller.
	Reason string
}

// Checker asks one authorization server. Implementations live in the
// subpackages envoy and opa.
//
// Check is called from many goroutines at once. It must return within
// ctx, which carries the check's timeout. It returns an error, never an
// Answer, when the server gave no usable decision: unreachable, failing,
// timed out, or answering something that is not a decision. Close
// releases the checker's connections; it is called once, after the last
// Check has returned.
type Checker interface {
	Check(ctx context.Context, r *Request) (Answer, error)
	Close() error
}

// Decision is what the middleware does with a request, from an Answer
// or from the failure mode.
type Decision struct {
	Answer
	// Failed is true when the server gave no usable answer and the
	// failure mode decided: Allow is then true for FailAllow.
	Failed bool
	// Cached is true when the decision was reused.
	Cached bool
	// Err is what went wrong when Failed, for the log.
	Err error
}

// DenialStatus returns the HTTP status that refuses the request: 503 when
// the check failed, else the server's status (403 by default).
func (d Decision) DenialStatus() int {
	switch {
	case d.Failed:
		return http.StatusServiceUnavailable
	case d.Status == 0:
		return http.StatusForbidden
	}
	return d.Status
}
