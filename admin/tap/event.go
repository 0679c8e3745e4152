package tap

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weftmesh/weft/transport/observe"
)

// Directions of an [Event].
const (
	// Outbound is a call the node made to a service.
	Outbound = "out"
	// Inbound is a request the node served.
	Inbound = "in"
)

// Redacted replaces the value of a header whose name is not allow-listed.
const Redacted = "(redacted)"

// Event is one request as the tap shows it.
type Event struct {
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"`
	Protocol  string    `json:"protocol"`
	// Source is the calling service ("" when the caller named none),
	// Destination the service called.
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Peer is the verified SPIFFE ID of the other side, when mutual TLS
	// proved one.
	Peer string `json:"peer,omitempty"`
	// Method is the HTTP method or the gRPC full method name; Path the
	// HTTP path.
	Method string `json:"method"`
	Path   string `json:"path,omitempty"`
	// Route, Subset and Endpoint are where an outbound call went.
	Route    string `json:"route,omitempty"`
	Subset   string `json:"subset,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// Status is the HTTP status or the gRPC code; 0 without an answer.
	Status int `json:"status"`
	// Failed reports no answer or a server error.
	Failed     bool    `json:"failed,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"durationMs"`
	TraceID    string  `json:"traceId,omitempty"`
	// Reason says why an outbound call went where it went: the route,
	// the split, the balancer and what each attempt met.
	Reason string `json:"reason,omitempty"`
	// Headers are the request's headers (or metadata), values replaced by
	// [Redacted] unless allow-listed.
	Headers map[string]string `json:"headers,omitempty"`
}

// Bounds on what an event copies from a request.
const (
	maxHeaders     = 32
	maxHeaderValue = 256
	maxPath        = 512
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// reason explains an outbound call's routing in one line.
func reason(c *observe.CallInfo) string {
	var b strings.Builder
	if c.Route != "" {
		fmt.Fprintf(&b, "route %s matched", c.Route)
	} else {
		b.WriteString("no route matched: the service's defaults")
	}
	if c.Subset != "" {
		fmt.Fprintf(&b, "; the split chose subset %s", c.Subset)
	}
	tries := c.Tries()
	if c.Balancer != "" && len(tries) > 0 {
		fmt.Fprintf(&b, "; %s picked %s", c.Balancer, tries[0].Endpoint)
	}
	for i, t := range tries {
		if i == 0 && t.Outcome == "ok" && len(tries) == 1 {
			break
		}
		what := t.Outcome
		if t.Status != 0 {
			what = strconv.Itoa(t.Status) + " " + what
		}
		kind := "attempt"
		if t.Hedge {
			kind = "hedge"
		}
		fmt.Fprintf(&b, "; %s %d to %s: %s", kind, i+1, t.Endpoint, what)
	}
	if c.BudgetExhausted {
		b.WriteString("; the retry budget refused a retry")
	}
	return b.String()
}
