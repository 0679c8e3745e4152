package retry

import "net/http"

// Condition names accepted in [Config].On.
const (
	OnConnectFailure = "connect-failure"
	OnReset          = "reset"
	On5xx            = "5xx"
	OnGatewayError   = "gateway-error"
	On429            = "429"
)

var conditions = [...]string{OnConnectFailure, OnReset, On5xx, OnGatewayError, On429}

func knownCondition(name string) bool {
	for _, c := range conditions {
		if c == name {
			return true
		}
	}
	return false
}

// IdempotencyKeyHeader is the header by which a client declares that the
// server deduplicates a request, so that it may be sent again whatever its
// method.
const IdempotencyKeyHeader = "Idempotency-Key"

// Failure is how a try failed without a response.
type Failure uint8

const (
	// NoFailure means a response arrived; its status is in Outcome.Status.
	NoFailure Failure = iota
	// ConnectFailure means no connection could be made: nothing was sent.
	ConnectFailure
	// RefusedStream means the server refused the request before processing
	// it: an HTTP/2 REFUSED_STREAM, or a GOAWAY whose last stream ID is
	// below the request's stream.
	RefusedStream
	// Reset means the connection broke after the request was sent, before
	// a response arrived; the server may have processed it.
	Reset
	// Timeout means the try ran out of its per-try timeout; the server may
	// have processed it.
	Timeout
)

// Outcome is the result of one try, as the transport saw it.
type Outcome struct {
	// Failure is how the try failed, or NoFailure when a response arrived.
	Failure Failure
	// Status is the response's status code when Failure is NoFailure.
	Status int
}

// Unprocessed reports whether o proves that the server never processed
// the request, which makes sending it again safe whatever its method.
func (o Outcome) Unprocessed() bool {
	return o.Failure == ConnectFailure || o.Failure == RefusedStream
}

// matches reports whether the condition named cond covers o.
func matches(cond string, o Outcome) bool {
	switch cond {
	case OnConnectFailure:
		return o.Unprocessed()
	case OnReset:
		return o.Failure == Reset || o.Failure == Timeout
	}
	if o.Failure != NoFailure {
		return false
	}
	switch cond {
	case On5xx:
		return o.Status >= 500 && o.Status <= 599
	case OnGatewayError:
		return o.Status == http.StatusBadGateway || o.Status == http.StatusServiceUnavailable ||
			o.Status == http.StatusGatewayTimeout
	case On429:
		return o.Status == http.StatusTooManyRequests
	}
	return false
}

// Idempotent reports whether a request may be sent more than once even
// though an earlier copy may have been processed: its method is GET, HEAD,
// OPTIONS, PUT, DELETE or TRACE (an empty method is GET, as in net/http),
// its route is marked idempotent, or it carries an Idempotency-Key header.
// Methods are case-sensitive, as HTTP defines them. hdr may be nil.
func Idempotent(method string, hdr http.Header, routeIdempotent bool) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut,
		http.MethodDelete, http.MethodTrace:
		return true
	}
	return routeIdempotent || hdr.Get(IdempotencyKeyHeader) != ""
}

// Retryable reports whether a try that ended with outcome may be retried
// under cfg. The failure must match a condition in cfg.On (or the default
// conditions when On is empty). Then an outcome that proves the request
// never reached the server ([Outcome.Unprocessed]) is retryable for every
// method, and any other only when [Idempotent] accepts the request: a POST
// without an Idempotency-Key on a route not marked idempotent is never
// sent twice. Unknown condition names in cfg.On match nothing.
//
// Retryable does not count attempts, consult the budget or the context's
// [NoRetry] mark: the caller does. It is safe for concurrent use, does not
// allocate and does not keep its arguments.
func Retryable(cfg Config, method string, hdr http.Header, routeIdempotent bool, outcome Outcome) bool {
	if !covered(cfg.On, outcome) {
		return false
	}
	return outcome.Unprocessed() || Idempotent(method, hdr, routeIdempotent)
}

func covered(on []string, o Outcome) bool {
	if len(on) == 0 {
		return matches(OnConnectFailure, o) || matches(OnGatewayError, o)
	}
	for _, cond := range on {
		if matches(cond, o) {
			return true
		}
	}
	return false
}
