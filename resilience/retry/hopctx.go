package retry

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Hop is what a Weft client sends along with a request in its hop
// headers, as a server reads it.
type Hop struct {
	// Timeout is the time the caller had left when it sent the request
	// ([TimeoutHeader]); it applies when HasTimeout is set.
	Timeout    time.Duration
	HasTimeout bool
	// NoRetry reports that the caller owns the retries ([OwnerHeader]).
	NoRetry bool
}

// ReadHop reads the hop headers of hdr. A malformed [TimeoutHeader] is
// ignored, as if absent: the request is served without the caller's
// deadline rather than refused.
func ReadHop(hdr http.Header) Hop {
	var h Hop
	if v := hdr.Get(TimeoutHeader); v != "" {
		if d, err := ParseTimeout(v); err == nil {
			h.Timeout, h.HasTimeout = d, true
		}
	}
	h.NoRetry = hdr.Get(OwnerHeader) != ""
	return h
}

// HopContext is the context a server gives the handler of a request that
// a Weft client sent: the caller's remaining time is its deadline, and
// with the caller's retry mark it answers [NoRetry] with true, so that a
// chain of services shares one time budget and one owner of retries.
//
// It is made for the request path: it is a value the server keeps inside
// the state it allocates per request anyway, and the deadline's timer and
// channel are made only once something waits on Done or derives a
// cancellable context from it (a handler that calls no other service
// never does). Until then Err compares the deadline with the clock.
//
// The zero value is not usable: call [HopContext.Start] first, and
// [HopContext.End] when the request is over. A HopContext must not be
// copied after Start.
type HopContext struct {
	parent   context.Context
	deadline time.Time
	timed    bool // deadline applies
	noRetry  bool

	mu     sync.Mutex   // serializes making live and ending
	live   atomic.Value // context.Context: the deadline's, made on first need
	cancel context.CancelFunc
	ended  atomic.Bool
}

// Start makes c a child of parent for a request that arrived at now with
// hop.
func (c *HopContext) Start(parent context.Context, hop Hop, now time.Time) {
	c.parent, c.noRetry, c.timed = parent, hop.NoRetry, hop.HasTimeout
	if c.timed {
		c.deadline = now.Add(hop.Timeout)
	}
}

// End ends c, as the cancel function of a context with a deadline does:
// from then on it is done, and its timer, if made, is stopped. It is
// called once the handler returned.
func (c *HopContext) End() {
	if !c.timed {
		return // c adds no cancellation of its own to its parent's
	}
	c.mu.Lock()
	c.ended.Store(true)
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Deadline implements [context.Context]: the caller's deadline, or the
// parent's when that is earlier.
func (c *HopContext) Deadline() (time.Time, bool) {
	pd, ok := c.parent.Deadline()
	if !c.timed || ok && pd.Before(c.deadline) {
		return pd, ok
	}
	return c.deadline, true
}

// Done implements [context.Context].
func (c *HopContext) Done() <-chan struct{} {
	if !c.timed {
		return c.parent.Done()
	}
	return c.materialize().Done()
}

// Err implements [context.Context].
func (c *HopContext) Err() error {
	if !c.timed {
		return c.parent.Err()
	}
	if l := c.lived(); l != nil {
		return l.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.ended.Load() {
		return context.Canceled
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements [context.Context]. Once the deadline's context is
// made, lookups go through it, so that contexts derived from c register
// with it directly rather than through a goroutine.
func (c *HopContext) Value(key any) any {
	if _, ok := key.(noRetryKey); ok && c.noRetry {
		return true
	}
	if l := c.lived(); l != nil {
		return l.Value(key)
	}
	return c.parent.Value(key)
}

func (c *HopContext) String() string { return "retry.HopContext" }

// lived returns the deadline's context, nil until it is made.
func (c *HopContext) lived() context.Context {
	if l := c.live.Load(); l != nil {
		return l.(context.Context)
	}
	return nil
}

// materialize returns the standard context c stands for, making it on
// first use.
func (c *HopContext) materialize() context.Context {
	if l := c.lived(); l != nil {
		return l
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.lived(); l != nil {
		return l
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	if c.ended.Load() {
		cancel()
	}
	c.cancel = cancel
	c.live.Store(ctx)
	return ctx
}
