// Package clocktest provides the manual clock that Weft's tests inject
// wherever time matters (budgets, breakers, ejections, limits, slow start,
// key set refreshes), so that no test waits for real time to pass.
package clocktest

import (
	"slices"
	"sync"
	"time"
)

// Clock is a clock that moves only when told to. It is safe for
// concurrent use; its Now method fits every `now func() time.Time` hook,
// and its After method every `after func(time.Duration) <-chan time.Time`
// hook.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter // channels of After that have not fired
}

// waiter is one channel of After and the time it fires at.
type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t, firing the channels of After that are due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.fire()
	c.mu.Unlock()
}

// Advance moves the clock forward by d, firing the channels of After that
// are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.fire()
	c.mu.Unlock()
}

// After returns a channel that receives the clock's time once the clock
// has moved d past its time now: at once when d <= 0, else during the
// Set or Advance that gets there. The channel is buffered; a channel
// nobody reads any more is harmless.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.t.Add(d), ch: ch})
	return ch
}

// Waiting returns, soonest first, how far the clock must move for each
// channel of After that has not fired yet to fire. A test reads it to
// know that code it started waits on the clock (and for how long) before
// it moves the clock.
func (c *Clock) Waiting() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, len(c.waiters))
	for i, w := range c.waiters {
		out[i] = w.at.Sub(c.t)
	}
	slices.Sort(out)
	return out
}

// fire sends the time on the channels that are due and forgets them.
// c.mu is held.
func (c *Clock) fire() {
	c.waiters = slices.DeleteFunc(c.waiters, func(w waiter) bool {
		if w.at.After(c.t) {
			return false
		}
		w.ch <- c.t
		return true
	})
}
