package breaker

import (
	"errors"
	"fmt"
	"time"
)

// ErrOpen is returned by [Set.Allow] when the endpoint's breaker holds the
// request back: the breaker is open, or half-open with all its trial
// requests already under way. The caller should pick another endpoint; the
// request was not sent.
var ErrOpen = errors.New("breaker: circuit open: endpoint failing, request not sent; pick another endpoint")

// ErrAllOpen matches, with [errors.Is], the error [Set.CheckAll] returns
// when the breaker of every endpoint of a destination holds requests back.
// Requests then fail fast until the first breaker turns half-open; the
// error's [AllOpenError] says when.
var ErrAllOpen = errors.New("breaker: every endpoint's circuit is open")

// AllOpenError is the error [Set.CheckAll] returns when no endpoint of a
// destination may be sent to. It matches [ErrAllOpen].
type AllOpenError struct {
	// Endpoints is the number of endpoints, all open.
	Endpoints int
	// Retry is the time until the first open breaker turns half-open; 0
	// when every breaker is half-open with its trial requests under way.
	Retry time.Duration
}

// Error says how many endpoints are open and when the next trial happens.
func (e *AllOpenError) Error() string {
	next := "trial requests under way"
	if e.Retry > 0 {
		next = fmt.Sprintf("next trial in %s", e.Retry)
	}
	return fmt.Sprintf("breaker: all %d endpoints failing, circuits open; failing fast (%s): check the service's health",
		e.Endpoints, next)
}

// Is reports whether target is [ErrAllOpen].
func (e *AllOpenError) Is(target error) bool { return target == ErrAllOpen }
