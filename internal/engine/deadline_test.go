package engine_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/race"
	"github.com/weftmesh/weft/resilience/retry"
)

// begin starts a call to e's "svc" under parent with the call's deadline.
func begin(e *engine.Engine, parent context.Context) (*engine.Call, context.Context) {
	c, ctx := e.Destination("svc").Begin(parent, engine.Request{Protocol: engine.HTTP, Method: http.MethodGet})
	return c, c.WithDeadline(ctx)
}

func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not done after 5 s", what)
	}
}

// The call's deadline context behaves as context.WithDeadline's: it ends
// at the deadline, with its parent, or when the call ends it, and the
// contexts derived from it (net/http derives one per request) end with it.
func TestCallDeadline(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{Timeout: 30 * time.Millisecond}, nil, 1)

	c, ctx := begin(e, context.Background())
	child, stop := context.WithCancel(ctx)
	defer stop()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 30*time.Millisecond {
		t.Errorf("deadline %v, %v; want within the 30 ms timeout", d, ok)
	}
	waitDone(t, child, "a context derived from the call's at its deadline")
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(child), context.DeadlineExceeded) {
		t.Errorf("Err %v, derived Cause %v; want DeadlineExceeded", ctx.Err(), context.Cause(child))
	}
	c.EndDeadline()
	c.EndDeadline() // idempotent

	parent, cancel := context.WithCancel(context.Background())
	c, ctx = begin(e, parent)
	child, stop = context.WithCancel(ctx)
	defer stop()
	cancel()
	waitDone(t, child, "a call's context after its caller gave up")
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err after the caller gave up = %v, want Canceled", ctx.Err())
	}
	c.EndDeadline()

	c, ctx = begin(e, context.WithValue(context.Background(), keyT{}, "v"))
	before := runtime.NumGoroutine()
	var children []context.Context
	for range 10 {
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		children = append(children, cctx)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("10 derived contexts started %d goroutines", n-before)
	}
	if ctx.Value(keyT{}) != "v" {
		t.Error("the call's context lost its parent's values")
	}
	c.EndDeadline()
	for _, cctx := range children {
		waitDone(t, cctx, "a derived context after the call ended")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err after EndDeadline = %v, want Canceled", ctx.Err())
	}
	// A context derived once the call ended is done at once.
	late, stop := context.WithCancel(ctx)
	defer stop()
	waitDone(t, late, "a context derived after the call ended")
	done := make(chan struct{})
	context.AfterFunc(ctx, func() { close(done) })
	waitDone(t, doneCtx(done), "AfterFunc on an ended call's context")

	// A caller's earlier deadline is kept: no context is made.
	early, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, ctx := begin(e, early); ctx != early {
		t.Error("a caller's earlier deadline was replaced")
	}
}

type keyT struct{}

// doneCtx is a context whose Done is ch.
type doneCtx chan struct{}

func (doneCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c doneCtx) Done() <-chan struct{}     { return c }
func (doneCtx) Err() error                  { return nil }
func (doneCtx) Value(any) any               { return nil }

// okAttempter answers every attempt with 200 at once.
type okAttempter struct{}

func (okAttempter) Attempt(ctx context.Context, t *engine.Try) engine.Result[int] {
	pk := t.Picked()
	pk.Done(engine.Verdict{Outcome: retry.Outcome{Status: 200}})
	return engine.Result[int]{Value: 200, Outcome: retry.Outcome{Status: 200}}
}
func (okAttempter) Discard(*engine.Try, engine.Result[int]) {}
func (okAttempter) Rewind() bool                            { return true }

// A call that makes one attempt costs the engine no allocation of its
// own: the call, its first attempt and its deadline context live in the
// value the protocol allocates, and the deadline's timer is reused.
func TestCallAllocations(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{}, nil, 3)
	d := e.Destination("svc")
	ps := d.Pickers(engine.HTTP)
	var a engine.Attempter[int] = okAttempter{}
	type httpCall struct{ call engine.Call }
	h := new(httpCall)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		h.call = engine.Call{}
		cctx := d.BeginCall(&h.call, ctx, engine.Request{Protocol: engine.HTTP, Method: http.MethodGet})
		cctx = h.call.WithDeadline(cctx)
		tr, res := engine.Run(cctx, cctx, &h.call, a, ps, true)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		tr.Picked().End()
		tr.Release()
		h.call.EndDeadline()
		h.call.End(200, nil)
	})
	t.Logf("%v allocations per call", allocs)
	// The deadline's timer is reused from call to call; under the race
	// detector, whose pools drop some of what they are given, a call
	// sometimes makes one (time.AfterFunc: the timer and its function).
	want := 0.0
	if race.Enabled {
		want = 2
	}
	if allocs > want {
		t.Errorf("a call allocates %v times in the engine, want at most %v", allocs, want)
	}
	assertIdle(t, e)
}

// engine.AfterFunc keeps f in the call's deadline context when the
// context it is given is that one or only adds values to it (an
// attempt's span): f runs when the call's context ends, and no goroutine
// waits for it. Under a context that can end earlier (a per-try timeout),
// f runs when that one ends.
func TestAfterFunc(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{Timeout: time.Minute}, nil, 1)
	for _, tc := range []struct {
		name   string
		derive func(context.Context) context.Context
	}{
		{"the call's context", func(ctx context.Context) context.Context { return ctx }},
		{"values over it", func(ctx context.Context) context.Context {
			return context.WithValue(context.WithValue(ctx, keyT{}, 1), keyT{}, 2)
		}},
	} {
		c, ctx := begin(e, context.Background())
		actx := tc.derive(ctx)
		before := runtime.NumGoroutine()
		var ran [10]chan struct{}
		for i := range ran {
			ran[i] = make(chan struct{})
			engine.AfterFunc(actx, func() { close(ran[i]) })
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%s: 10 functions started %d goroutines", tc.name, n-before)
		}
		for i := range ran {
			select {
			case <-ran[i]:
				t.Fatalf("%s: a function ran before the call's context ended", tc.name)
			default:
			}
		}
		c.EndDeadline()
		for i := range ran {
			waitDone(t, doneCtx(ran[i]), tc.name+": a function once the call's context ended")
		}
	}

	// A per-try timeout under the call's context ends first.
	c, ctx := begin(e, context.Background())
	defer c.EndDeadline()
	try, cancel := context.WithCancel(context.WithValue(ctx, keyT{}, 1))
	ran := make(chan struct{})
	engine.AfterFunc(context.WithValue(try, keyT{}, 2), func() { close(ran) })
	cancel()
	waitDone(t, doneCtx(ran), "a function under a try's context when the try ended")

	// A context that never ends never runs f.
	stop := engine.AfterFunc(context.Background(), func() { t.Error("ran under a context that never ends") })
	if stop() {
		t.Error("stop under a context that never ends reported that it stopped something")
	}
}
