package outlier

import "fmt"

// Outcome is how one request to an endpoint ended, as outlier detection
// sees it. Every outcome but Success counts as an error.
type Outcome uint8

// The outcomes.
const (
	// Success is any response the endpoint served: 1xx to 4xx, and 5xx
	// codes [FromStatus] does not count.
	Success Outcome = iota
	// ServerError is a 5xx response other than a gateway error.
	ServerError
	// GatewayError is a 502, 503 or 504 response.
	GatewayError
	// ConnectFailure is a connection that could not be made, or broke
	// before a response arrived.
	ConnectFailure
)

// FromStatus returns the outcome of a request that got an HTTP response
// with the given status code.
func FromStatus(code int) Outcome {
	switch {
	case code == 502 || code == 503 || code == 504:
		return GatewayError
	case code >= 500 && code <= 599:
		return ServerError
	default:
		return Success
	}
}

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case ServerError:
		return "server error"
	case GatewayError:
		return "gateway error"
	case ConnectFailure:
		return "connect failure"
	default:
		return fmt.Sprintf("Outcome(%d)", uint8(o))
	}
}
