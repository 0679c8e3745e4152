// Package nodeapi is the protocol between internal/hosttest and the
// weftnode program it runs in each host of a lab: JSON lines, one
// [Request] per line on the program's stdin, one [Message] per line on its
// stdout. A Message with a Seq answers the Request with that Seq; one
// without is an event the program pushes on its own ([EventStarted],
// [EventError]).
package nodeapi

import "time"

// Op names what a Request asks of a node.
type Op string

const (
	// OpMembers asks for the node's view of the mesh: [Members].
	OpMembers Op = "members"
	// OpLoad starts an open-loop load as [LoadSpec] describes. A node runs
	// one load at a time.
	OpLoad Op = "load"
	// OpOutcomes returns, in Outcomes, the requests of the load that have
	// ended since the last OpOutcomes.
	OpOutcomes Op = "outcomes"
	// OpStopLoad stops sending, waits for the requests in flight to end
	// and returns the outcomes not yet returned.
	OpStopLoad Op = "stop-load"
	// OpFaults sets the loss and delay injected into the node's gossip.
	OpFaults Op = "faults"
	// OpGet makes a plain HTTP GET (no mesh client) of URL: [GetResult].
	OpGet Op = "get"
	// OpBusy keeps every CPU the process may use busy for Duration and
	// replies when that is over, with the CPU time the process used
	// meanwhile in CPU.
	OpBusy Op = "busy"
	// OpShutdown shuts the node down gracefully; the program exits after
	// replying.
	OpShutdown Op = "shutdown"
)

// Events a node pushes.
const (
	// EventStarted: the node joined the mesh and serves; Started says
	// where.
	EventStarted = "started"
	// EventError: something failed outside any request; Error says what.
	// A node that fails to start pushes it and exits.
	EventError = "error"
)

// Request is one command to a node.
type Request struct {
	// Seq identifies the request; the reply carries it back. Positive.
	Seq int `json:"seq"`
	Op  Op  `json:"op"`
	// Load is OpLoad's load.
	Load *LoadSpec `json:"load,omitempty"`
	// Loss and Delay are OpFaults' loss fraction (0 to 1) and delay.
	Loss  float64       `json:"loss,omitempty"`
	Delay time.Duration `json:"delay,omitempty"`
	// URL is OpGet's URL.
	URL string `json:"url,omitempty"`
	// Duration is how long OpBusy lasts, and OpGet's timeout (if zero,
	// 5 s).
	Duration time.Duration `json:"duration,omitempty"`
}

// LoadSpec is an open-loop load: requests are sent on schedule, whether or
// not earlier ones have answered.
type LoadSpec struct {
	// Service is the mesh service the requests go to, through the node's
	// mesh client (http://<service>/).
	Service string `json:"service"`
	// Rate is the number of requests started per second. Positive.
	Rate float64 `json:"rate"`
	// Method is GET or POST.
	Method string `json:"method"`
	// Timeout bounds each request. If zero, 10 s.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Message is one line a node writes: a reply (Seq set) or an event.
type Message struct {
	Seq   int    `json:"seq,omitempty"`
	Event string `json:"event,omitempty"`
	// Error is why the request failed, or the EventError's reason.
	Error string `json:"error,omitempty"`

	Started  *Started   `json:"started,omitempty"`
	Members  *Members   `json:"members,omitempty"`
	Outcomes []Outcome  `json:"outcomes,omitempty"`
	Get      *GetResult `json:"get,omitempty"`
	// CPU is the CPU time OpBusy's process used while busy.
	CPU time.Duration `json:"cpu,omitempty"`
}

// Started says where a node listens.
type Started struct {
	// Node is the node's gossip name.
	Node string `json:"node"`
	// Host is the lab host's name, as the node answers it.
	Host string `json:"host"`
	// Gossip, HTTP and Admin are the bound addresses; Admin is empty
	// without an admin endpoint.
	Gossip string `json:"gossip"`
	HTTP   string `json:"http"`
	Admin  string `json:"admin,omitempty"`
}

// Members is a node's view of the mesh.
type Members struct {
	// Members are the gossip members the node knows of, itself included,
	// with their status as it sees it (alive, suspect, dead, left).
	Members []Member `json:"members"`
	// Instances lists, per service, the catalog entries in the node's
	// current view.
	Instances map[string][]Instance `json:"instances"`
	// Endpoints lists, per service, the HTTP endpoints the node's client
	// would send requests to.
	Endpoints map[string][]string `json:"endpoints"`
}

// Member is one gossip member as a node sees it.
type Member struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Status string `json:"status"`
}

// Instance is one catalog entry as a node sees it.
type Instance struct {
	Node  string `json:"node"`
	State string `json:"state"`
	HTTP  string `json:"http,omitempty"`
}

// Alive returns the names of the members the view holds alive.
func (m *Members) Alive() []string {
	var names []string
	for _, mem := range m.Members {
		if mem.Status == "alive" {
			names = append(names, mem.Name)
		}
	}
	return names
}

// Outcome is how one request of a load ended.
type Outcome struct {
	// ID is the request's unique ID, sent in the [RequestIDHeader].
	ID string `json:"id"`
	// Status is the HTTP status, or 0 when the request got no response.
	Status int `json:"status,omitempty"`
	// Err is why the request got no response.
	Err string `json:"err,omitempty"`
	// Backend is the lab host whose node answered, from the response body.
	Backend string    `json:"backend,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Tries are the attempts the mesh client made, in the order they
	// ended.
	Tries []Try `json:"tries,omitempty"`
}

// Try is one attempt of a request, as the mesh client's spans record it
// (the call's span for the first attempt, an attempt span for each
// further one).
type Try struct {
	// Endpoint is the host:port the attempt went to.
	Endpoint string `json:"endpoint"`
	// Outcome is how it ended: "ok", "error" (5xx, 429),
	// "connect-failure", "reset", "timeout" or "cancelled".
	Outcome string    `json:"outcome"`
	Status  int       `json:"status,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// OK reports whether the request got a 200.
func (o Outcome) OK() bool { return o.Status == 200 }

// GetResult is the answer to OpGet.
type GetResult struct {
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
	// Err is why the GET got no response.
	Err string `json:"err,omitempty"`
}

// RequestIDHeader carries a load request's unique ID to the backend. The
// backend appends every ID it receives to its served log (weftnode's
// -served-log), a line per request, before it answers: a file, so that
// what a killed backend had received can still be read, to find requests
// served twice.
const RequestIDHeader = "X-Request-Id"
