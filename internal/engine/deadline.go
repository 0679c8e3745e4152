package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineContext is a call's context bounded by its deadline: what
// context.WithDeadline makes, kept within the Call instead of allocated
// beside it, and cancelled by [Call.EndDeadline] instead of a cancel
// function made per call.
//
// Contexts derived from it (net/http derives one per request) register
// through AfterFunc, which keeps their functions in the context itself:
// they run when it ends, and their stop function does nothing, since
// cancelling a context that already ended is harmless. A call derives at
// most a few.
type deadlineContext struct {
	parent   context.Context
	deadline time.Time

	mu          sync.Mutex
	done        chan struct{} // made on first use
	err         error
	timer       *deadlineTimer
	stopParent  func() bool // unregisters from parent; nil when parent cannot end
	funcs       [2]func()   // registered with AfterFunc, then more
	more        []func()
	nfuncs      int
	initialized bool
}

// start makes c parent's child, ended at deadline, which is d from now:
// the caller has just read the clock.
func (c *deadlineContext) start(parent context.Context, deadline time.Time, d time.Duration) {
	c.parent, c.deadline = parent, deadline
	c.initialized = true
	if parent.Done() != nil {
		if err := parent.Err(); err != nil {
			c.cancel(err)
			return
		}
		c.stopParent = context.AfterFunc(parent, c.parentDone)
	}
	if d <= 0 {
		c.cancel(context.DeadlineExceeded)
		return
	}
	c.mu.Lock()
	if c.err == nil {
		c.timer = timerPool.Get().(*deadlineTimer)
		c.timer.target.Store(c)
		c.timer.t.Reset(d)
	}
	c.mu.Unlock()
}

// deadlineTimer is the timer of a call's deadline, kept for another call
// once stopped before it fired, so that calls allocate no timer of their
// own.
type deadlineTimer struct {
	t      *time.Timer
	target atomic.Pointer[deadlineContext]
}

var timerPool sync.Pool

func init() {
	timerPool.New = func() any {
		dt := new(deadlineTimer)
		dt.t = time.AfterFunc(time.Hour, dt.fire)
		dt.t.Stop()
		return dt
	}
}

func (dt *deadlineTimer) fire() {
	if c := dt.target.Load(); c != nil {
		c.expire()
	}
}

// release stops dt; it goes back to the pool unless it fired, in which
// case its function may be running still.
func (dt *deadlineTimer) release() {
	if dt.t.Stop() {
		dt.target.Store(nil)
		timerPool.Put(dt)
	}
}

func (c *deadlineContext) parentDone() { c.cancel(c.parent.Err()) }

func (c *deadlineContext) expire() { c.cancel(context.DeadlineExceeded) }

// end cancels c, if it was started and has not ended yet.
func (c *deadlineContext) end() {
	if c.initialized {
		c.cancel(context.Canceled)
	}
}

// cancel ends c with err, once, and runs the functions registered with
// AfterFunc, outside the lock: they call back into c.
func (c *deadlineContext) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done == nil {
		c.done = closedChan
	} else {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.release()
		c.timer = nil
	}
	stop := c.stopParent
	funcs, more := c.funcs, c.more
	n := c.nfuncs
	c.funcs, c.more, c.nfuncs = [2]func(){}, nil, 0
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	for i := range min(n, len(funcs)) {
		funcs[i]()
	}
	for _, f := range more {
		f()
	}
}

// closedChan is the Done channel of a context that ended before anyone
// asked for it.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Deadline implements [context.Context].
func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements [context.Context].
func (c *deadlineContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

// Err implements [context.Context].
func (c *deadlineContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements [context.Context]; a lookup of deadlineKey finds c,
// for [AfterFunc].
func (c *deadlineContext) Value(key any) any {
	if key == (deadlineKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// deadlineKey finds a call's deadline context under contexts derived
// from it.
type deadlineKey struct{}

// AfterFunc is [context.AfterFunc] for the contexts of a call's attempts.
// When ctx is a call's deadline context, or one that only adds values to
// it (the attempt's span), f is kept by the deadline context, which costs
// nothing more; the context package would allocate a context for f and,
// for a context that only adds values to one it does not know, start a
// goroutine that waits for it to end. stop then does not prevent f from
// running: f runs when the call's deadline context ends, which may be
// after the caller is done with it, and must be harmless then.
func AfterFunc(ctx context.Context, f func()) (stop func() bool) {
	if c, ok := ctx.(*deadlineContext); ok {
		return c.AfterFunc(f)
	}
	done := ctx.Done()
	if done == nil {
		return noStop // ctx never ends
	}
	if c, ok := ctx.Value(deadlineKey{}).(*deadlineContext); ok && done == c.Done() {
		return c.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

// AfterFunc arranges for f to run once c ends, and is how the context
// package registers contexts derived from c. The stop function it returns
// does nothing: f then runs when c ends, on a context that has usually
// ended already, which is harmless.
func (c *deadlineContext) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return noStop
	}
	if c.nfuncs < len(c.funcs) {
		c.funcs[c.nfuncs] = f
	} else {
		c.more = append(c.more, f)
	}
	c.nfuncs++
	c.mu.Unlock()
	return noStop
}

func noStop() bool { return false }

func (c *deadlineContext) String() string { return "engine.deadlineContext" }
