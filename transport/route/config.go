package route

import (
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

// Config is the routing part of one service's policy: the keys `subsets`
// and `routes` of a service's section. The zero Config has no subsets and no
// routes: every request goes to every endpoint of the service.
type Config struct {
	// Subsets names groups of the service's endpoints, by subset name.
	// Subset names are 1 to 63 letters, digits, '-', '_' or '.'. If empty,
	// routes can only send traffic to every endpoint (an empty To).
	Subsets map[string]Subset `yaml:"subsets"`
	// Routes is the ordered route list; the first route whose Match fits a
	// request decides where it goes. If empty, every request goes to every
	// endpoint of the service.
	Routes []Route `yaml:"routes"`
}

// Subset selects the endpoints whose metadata match all its fields. If both
// fields are empty the subset holds every endpoint.
type Subset struct {
	// Version, if not empty, must equal the endpoint's version exactly.
	Version string `yaml:"version"`
	// Labels, if not empty, must each be present on the endpoint with
	// exactly the given value; the endpoint may carry other labels too.
	Labels map[string]string `yaml:"labels"`
}

// Selects reports whether an endpoint with the given version and labels
// belongs to s. It is safe for concurrent use, does not allocate and does
// not keep labels.
func (s Subset) Selects(version string, labels map[string]string) bool {
	if s.Version != "" && s.Version != version {
		return false
	}
	for k, want := range s.Labels {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// Route sends the requests it matches to a weighted split of subsets.
type Route struct {
	// Name identifies the route in metrics and logs. If empty, the route
	// is known by its position, "routes[i]". Names must be unique within
	// a service.
	Name string `yaml:"name"`
	// Match says which requests the route takes. If zero, the route takes
	// every request (a catch-all), so routes after it are never used.
	Match Match `yaml:"match"`
	// To maps subset names to relative weights. Weights are integers from
	// 0 to 1,000,000 and need not sum to 100; a subset of weight 0 gets no
	// traffic. At least one weight must be positive. If empty, matched
	// requests go to every endpoint of the service.
	To map[string]int `yaml:"to"`
	// Timeout bounds a matched call, replacing the service's timeout. If
	// zero, the service's timeout applies. Must not be negative.
	Timeout time.Duration `yaml:"timeout"`
	// Idempotent declares that matched requests may be retried even when
	// their method is not idempotent (POST, PATCH). If false, only
	// idempotent methods are retried.
	Idempotent bool `yaml:"idempotent"`
	// Fault, if not nil, injects delays and aborts into matched requests.
	Fault *Fault `yaml:"fault"`
	// Mirror, if not nil, sends a copy of a share of matched requests to a
	// subset; the copy's response is discarded.
	Mirror *Mirror `yaml:"mirror"`
	// Hedge, if not nil, sends a second try to another endpoint when the
	// first has not answered after Hedge.Delay; the first answer wins.
	// Only requests that may be retried are hedged.
	Hedge *retry.HedgeConfig `yaml:"hedge"`
}

// Match is a conjunction of conditions on a request; a zero field places no
// condition.
type Match struct {
	// Path, if not empty, must equal the request's URL path exactly. It
	// starts with '/'. Path and PathPrefix cannot both be set.
	Path string `yaml:"path"`
	// PathPrefix, if not empty, must be a prefix of the request's URL path,
	// compared byte by byte: "/api" also takes "/apis", write "/api/" to take
	// only paths below /api. It starts with '/'.
	PathPrefix string `yaml:"pathPrefix"`
	// Methods, if not empty, lists the HTTP methods taken, in upper case:
	// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT or TRACE.
	Methods []string `yaml:"methods"`
	// Headers, if not empty, maps header names (case-insensitive) to the
	// value the header's first occurrence must equal exactly. Values must
	// not be empty. The Host header cannot be matched.
	Headers map[string]string `yaml:"headers"`
	// Claims, if not empty, maps claim names to accepted values: the
	// verified end user on whose behalf the call is made must hold one of
	// the values of each claim (see
	// [github.com/weftmesh/weft/security/claims.Requirement]), as in
	// `plan: [beta]`. The claims are read from the request's context,
	// where the inbound middleware of a service that authenticates end
	// users put them: a handler passes its request's context to the
	// calls it makes (http.NewRequestWithContext(r.Context(), ...), or
	// the ctx of a gRPC handler) and its calls follow the user. A call
	// whose context carries no claims matches no route with Claims.
	Claims map[string][]string `yaml:"claims"`
}

// IsZero reports whether m places no condition, making its route a
// catch-all.
func (m Match) IsZero() bool {
	return m.Path == "" && m.PathPrefix == "" && len(m.Methods) == 0 && len(m.Headers) == 0 && len(m.Claims) == 0
}

// Fault injects failures into matched requests, to test how callers cope.
// The delay and the abort are decided independently of each other.
type Fault struct {
	// Delay, if not nil, holds back a share of requests before sending
	// them.
	Delay *FaultDelay `yaml:"delay"`
	// Abort, if not nil, fails a share of requests with a status code
	// without sending them.
	Abort *FaultAbort `yaml:"abort"`
}

// FaultDelay delays a share of requests by a fixed duration.
type FaultDelay struct {
	// Duration is how long a delayed request waits. Must be greater than
	// zero.
	Duration time.Duration `yaml:"duration"`
	// Percent is the share of requests delayed, from 0 to 100 (fractions
	// allowed). If zero, no request is delayed.
	Percent float64 `yaml:"percent"`
}

// FaultAbort fails a share of requests with an HTTP status.
type FaultAbort struct {
	// Status is the HTTP status of the synthetic response, from 400 to
	// 599. Must be set.
	Status int `yaml:"status"`
	// Percent is the share of requests aborted, from 0 to 100 (fractions
	// allowed). If zero, no request is aborted.
	Percent float64 `yaml:"percent"`
}

// Mirror copies a share of matched requests to a subset. The copy is sent
// in addition to the real request; its response is discarded and its
// failure does not affect the caller.
type Mirror struct {
	// Subset names the subset the copies go to. Must be set and defined
	// in the service's subsets.
	Subset string `yaml:"subset"`
	// Percent is the share of matched requests copied, from 0 to 100
	// (fractions allowed). If zero, nothing is mirrored.
	Percent float64 `yaml:"percent"`
}
