package workload

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors that [New] wraps, for callers that react to the cause with
// errors.Is. The messages of the errors New returns carry the details and
// the advice.
var (
	// ErrNoAddress: neither Config.Socket nor $SPIFFE_ENDPOINT_SOCKET
	// names the Workload API. Configuration is needed; retrying is futile.
	ErrNoAddress = errors.New("workload: no Workload API address: set security.identity.spiffe.socket or $" + SocketEnv)
	// ErrUnreachable: nothing answered at the address (no agent running,
	// wrong path, a socket the process may not open). It may resolve
	// itself when the agent starts.
	ErrUnreachable = errors.New("workload: Workload API unreachable")
	// ErrNoEntry: the agent answered but issues no SVID with the wanted ID
	// to this process. A registration entry must be created; the Source
	// picks it up as soon as the agent syncs it.
	ErrNoEntry = errors.New("workload: no registration entry")
)

// problem is why the wanted SVID has not arrived (yet), worded for the
// person who must fix it.
type problem struct {
	kind  error  // ErrUnreachable, ErrNoEntry, or nil when unclassified
	msg   string // what happened and what to do
	cause error  // the Workload API's error, if any
}

// startError is the error New returns when its context ends first: the
// last problem seen, wrapped with its kind, its cause and the context's
// error.
type startError struct {
	msg  string
	errs []error
}

func (e *startError) Error() string   { return e.msg }
func (e *startError) Unwrap() []error { return e.errs }

func (p problem) startError(ctxErr error) error {
	e := &startError{msg: "workload: " + p.msg + " (gave up waiting: " + ctxErr.Error() + ")"}
	for _, err := range []error{p.kind, p.cause, ctxErr} {
		if err != nil {
			e.errs = append(e.errs, err)
		}
	}
	return e
}

// explainWatchError turns an error of the Workload API stream into a
// problem, by its gRPC code and the texts agents use.
func explainWatchError(addr string, want spiffeid.ID, err error) problem {
	st, _ := status.FromError(err)
	switch {
	case st.Code() == codes.PermissionDenied || strings.Contains(strings.ToLower(err.Error()), "no identity issued"):
		return problem{kind: ErrNoEntry, cause: err, msg: fmt.Sprintf(
			"the agent at %s has no registration entry for this workload (%v): create one for %s, e.g. spire-server entry create -spiffeID %s -parentID <the agent's SPIFFE ID> -selector unix:uid:%d",
			addr, err, wantName(want), wantName(want), os.Getuid())}
	case st.Code() == codes.Unavailable || isDialError(err):
		return problem{kind: ErrUnreachable, cause: err, msg: fmt.Sprintf(
			"no Workload API at %s (%v): is the SPIRE agent running, and is the socket path right?", addr, err)}
	}
	return problem{cause: err, msg: fmt.Sprintf("the Workload API at %s failed: %v", addr, err)}
}

// isDialError recognises the dial failures that reach the watch as plain
// errors rather than gRPC statuses.
func isDialError(err error) bool {
	s := err.Error()
	for _, sub := range []string{"no such file or directory", "connection refused", "permission denied"} {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// notIssued is the problem of an answer that holds SVIDs, none of them
// the wanted one.
func notIssued(addr string, want spiffeid.ID, issued []spiffeid.ID) problem {
	// An agent may serve many SVIDs to one process; a few suffice to
	// show which entries matched.
	const most = 8
	var names []string
	for i, id := range issued {
		if i == most {
			names = append(names, fmt.Sprintf("%d more", len(issued)-most))
			break
		}
		names = append(names, id.String())
	}
	return problem{kind: ErrNoEntry, msg: fmt.Sprintf(
		"the Workload API at %s issued %s but not %s: add a registration entry for %s",
		addr, strings.Join(names, ", "), want, want)}
}

// noAnswer is the problem before the Workload API has said anything.
func noAnswer(addr string) problem {
	return problem{kind: ErrUnreachable, msg: fmt.Sprintf(
		"no answer from the Workload API at %s: is the SPIRE agent running, and is the socket path right?", addr)}
}

func wantName(want spiffeid.ID) string {
	if want.IsZero() {
		return "this workload's SPIFFE ID"
	}
	return want.String()
}
