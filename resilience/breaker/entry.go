package breaker

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Marker receives a breaker's open periods. *resilience.Endpoint implements
// it, which is how an open endpoint leaves picking.
//
// Eject is called while gobreaker holds the breaker's lock, from whichever
// goroutine reported the failure that opened it: it must not block, and of
// the [Set]'s methods it may call only Open and State, which take no lock.
type Marker interface {
	// Eject takes the endpoint out of picking until the given time.
	Eject(until time.Time)
}

// Outcomes reported to gobreaker. errExcluded withdraws a request that
// gobreaker let through but the Set holds back: it is counted neither as a
// success nor as a failure.
var (
	errFailed   = errors.New("breaker: request failed")
	errExcluded = errors.New("breaker: request withdrawn")
)

// entry is the breaker of one endpoint and the atomic view of its state
// that the hot path reads.
type entry struct {
	set *Set
	cb  *gobreaker.TwoStepCircuitBreaker[struct{}]

	// state is Closed or Open as gobreaker last reported; an Open entry
	// whose openUntil has passed is half-open.
	state atomic.Int32
	// openUntil is the end of the open period, in unix nanoseconds of the
	// Set's clock. It is written before state, so a reader that sees Open
	// sees the matching openUntil.
	openUntil atomic.Int64
	marker    atomic.Pointer[Marker]
}

func newEntry(s *Set, key string) *entry {
	e := &entry{set: s}
	c := s.cfg
	bucket := c.Window / windowBuckets
	e.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         key,
		MaxRequests:  c.HalfOpenRequests,
		Interval:     c.Window,
		BucketPeriod: bucket,
		// The Set holds requests back for OpenFor on its own clock;
		// gobreaker's open period only has to end before that, and the
		// shortest positive timeout makes sure it does.
		Timeout:       time.Nanosecond,
		ReadyToTrip:   e.readyToTrip,
		OnStateChange: e.onStateChange,
		IsExcluded:    func(err error) bool { return err == errExcluded },
	})
	return e
}

// readyToTrip is gobreaker's trip rule, called under its lock on every
// failure of a closed breaker.
func (e *entry) readyToTrip(c gobreaker.Counts) bool {
	cfg := &e.set.cfg
	if c.ConsecutiveFailures >= cfg.ConsecutiveFailures {
		return true
	}
	if cfg.FailureRatio <= 0 {
		return false
	}
	finished := c.TotalSuccesses + c.TotalFailures
	return finished >= cfg.MinRequests && float64(c.TotalFailures) > cfg.FailureRatio*float64(finished)
}

// onStateChange is called by gobreaker under its lock: it only stores
// atomics and marks the endpoint.
func (e *entry) onStateChange(_ string, _, to gobreaker.State) {
	switch to {
	case gobreaker.StateOpen:
		until := e.set.now().Add(e.set.cfg.OpenFor)
		e.openUntil.Store(until.UnixNano())
		e.state.Store(int32(Open))
		if m := e.marker.Load(); m != nil {
			(*m).Eject(until)
		}
	case gobreaker.StateClosed:
		e.state.Store(int32(Closed))
	}
	// gobreaker's half-open state is not stored: an Open entry is
	// half-open once openUntil has passed on the Set's clock, whatever
	// gobreaker's own shorter timeout says.
}

// holding reports whether the open period holds requests back at now
// (unix nanoseconds).
func (e *entry) holding(now int64) bool {
	return State(e.state.Load()) == Open && now < e.openUntil.Load()
}

// stateAt returns the breaker's state at now (unix nanoseconds).
func (e *entry) stateAt(now int64) State {
	if State(e.state.Load()) == Closed {
		return Closed
	}
	if now < e.openUntil.Load() {
		return Open
	}
	return HalfOpen
}

// trialsBusy reports whether a half-open breaker has let through all the
// trial requests it will. It takes gobreaker's lock but changes nothing.
func (e *entry) trialsBusy() bool {
	c := e.cb.Counts()
	return c.Requests >= c.TotalExclusions && c.Requests-c.TotalExclusions >= e.set.cfg.HalfOpenRequests
}
