package resilience

import (
	"errors"
	"sync/atomic"
	"time"
)

// ErrNoEndpoint is returned by a [Picker] that has no endpoint to offer.
var ErrNoEndpoint = errors.New("resilience: no endpoint available")

// Endpoint is one address of one instance of a destination service, as a
// balancer sees it.
//
// The identity fields are set once by whoever creates the Endpoint and never
// change. The counters are shared by every picker that holds the endpoint and
// are safe for concurrent use; they survive picker rebuilds because the
// creator reuses the same *Endpoint for as long as the address is in the
// catalog.
type Endpoint struct {
	// Addr is the host:port to dial.
	Addr string
	// Node is the gossip name of the instance serving Addr.
	Node string
	// Zone, Version and Labels are copied from the instance's catalog
	// entry; Labels must not be modified.
	Zone, Version string
	Labels        map[string]string
	// Weight is the relative share of traffic; 0 means 1.
	Weight uint32
	// ReadySince is when the endpoint first appeared in the catalog as
	// ready. Pickers built with [BuildOptions] SlowStart ramp its weight up
	// over the window that follows. The zero time means "long ago": the
	// endpoint gets its full weight at once.
	ReadySince time.Time

	inFlight  atomic.Int64
	downUntil atomic.Int64 // unix nanoseconds; 0 when healthy

	// The latency estimate read by [Endpoint.Latency]; see latency.go.
	rtt      atomic.Uint64 // float64 bits: peak EWMA in nanoseconds
	rttStamp atomic.Int64  // unix nanoseconds of the latest observation; 0 before the first

	// The ejection mark set by circuit breakers and outlier detection;
	// see eject.go.
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when not ejected
}

// Begin records the start of a request to e. Every Begin must be followed
// by exactly one [Endpoint.End].
func (e *Endpoint) Begin() { e.inFlight.Add(1) }

// End records the end of a request started with [Endpoint.Begin].
func (e *Endpoint) End() { e.inFlight.Add(-1) }

// InFlight returns the number of requests currently outstanding to e.
func (e *Endpoint) InFlight() int64 { return e.inFlight.Load() }

// MarkDown takes e out of picking until the given time, after a failure
// that proves the endpoint cannot serve right now (for example a refused
// connection). Pickers still use a down endpoint when no other remains.
func (e *Endpoint) MarkDown(until time.Time) { e.downUntil.Store(until.UnixNano()) }

// MarkUp returns e to picking after a request succeeded.
func (e *Endpoint) MarkUp() {
	if e.downUntil.Load() != 0 {
		e.downUntil.Store(0)
	}
}

// Available reports whether e may be picked at now (unix nanoseconds): it
// is neither marked down nor ejected ([Endpoint.Eject]) at now.
func (e *Endpoint) Available(now int64) bool {
	d := e.downUntil.Load()
	return (d == 0 || now >= d) && !e.Ejected(now)
}

// PickInfo describes the request a [Picker] chooses for.
type PickInfo struct {
	// Avoid, if not nil, is an endpoint that just failed this request;
	// the picker returns another one when it can.
	Avoid *Endpoint
	// Hash is the request's affinity key, for pickers that send equal keys
	// to the same endpoint (ring_hash); it is used only when HasHash is
	// true. Other pickers ignore it.
	Hash uint64
	// HasHash reports whether Hash is set. A request without a key is
	// balanced at random by hashing pickers.
	HasHash bool
}

// Picker chooses an endpoint for each request.
//
// Pick is called concurrently from every goroutine that sends a request. It
// must not block and must not allocate. A Picker is built for one fixed
// endpoint set and is discarded, never changed, when the set changes.
type Picker interface {
	// Pick returns the endpoint for one request, or [ErrNoEndpoint] when
	// the set is empty.
	Pick(info PickInfo) (*Endpoint, error)
}

// Builder makes pickers. A Builder is stateless and safe for concurrent use.
type Builder interface {
	// Build returns a picker over endpoints. The slice is not modified
	// after the call and the picker may keep it.
	Build(endpoints []*Endpoint) Picker
}
