package breaker

import "fmt"

// State is the state of one breaker.
type State int32

// The breaker states.
const (
	// Closed lets every request through and counts failures.
	Closed State = iota
	// HalfOpen lets a few trial requests through after the open period.
	HalfOpen
	// Open holds every request back until the open period ends.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	default:
		return fmt.Sprintf("State(%d)", int32(s))
	}
}
