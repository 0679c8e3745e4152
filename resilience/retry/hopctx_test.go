package retry_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func TestReadHop(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  http.Header
		want retry.Hop
	}{
		{"none", http.Header{}, retry.Hop{}},
		{"timeout", http.Header{"Weft-Timeout": {"1500"}}, retry.Hop{Timeout: 1500 * time.Millisecond, HasTimeout: true}},
		{"zero timeout", http.Header{"Weft-Timeout": {"0"}}, retry.Hop{HasTimeout: true}},
		{"malformed timeout is ignored", http.Header{"Weft-Timeout": {"1.5s"}}, retry.Hop{}},
		{"owner", http.Header{"Weft-Retry-Owner": {"1"}}, retry.Hop{NoRetry: true}},
		{"both", http.Header{"Weft-Timeout": {"20"}, "Weft-Retry-Owner": {"orders"}}, retry.Hop{Timeout: 20 * time.Millisecond, HasTimeout: true, NoRetry: true}},
	} {
		if got := retry.ReadHop(tc.hdr); got != tc.want {
			t.Errorf("%s: ReadHop = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// startHop returns a HopContext under parent with timeout d from now.
func startHop(parent context.Context, d time.Duration, noRetry bool) *retry.HopContext {
	c := new(retry.HopContext)
	c.Start(parent, retry.Hop{Timeout: d, HasTimeout: d > 0, NoRetry: noRetry}, time.Now())
	return c
}

func TestHopContextDeadline(t *testing.T) {
	now := time.Now()
	var c retry.HopContext
	c.Start(context.Background(), retry.Hop{Timeout: time.Minute, HasTimeout: true}, now)
	defer c.End()
	if d, ok := c.Deadline(); !ok || !d.Equal(now.Add(time.Minute)) {
		t.Errorf("Deadline = %v, %v; want %v", d, ok, now.Add(time.Minute))
	}
	if c.Err() != nil {
		t.Errorf("Err before the deadline = %v", c.Err())
	}
	// A parent whose own deadline comes first keeps it.
	parent, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pd, _ := parent.Deadline()
	var early retry.HopContext
	early.Start(parent, retry.Hop{Timeout: time.Hour, HasTimeout: true}, now)
	defer early.End()
	if d, _ := early.Deadline(); !d.Equal(pd) {
		t.Errorf("Deadline under an earlier parent = %v, want the parent's %v", d, pd)
	}
}

// The deadline ends the context whether or not anything waited on it.
func TestHopContextExpires(t *testing.T) {
	lazy := startHop(context.Background(), 20*time.Millisecond, false)
	defer lazy.End()
	waiting := startHop(context.Background(), 20*time.Millisecond, false)
	defer waiting.End()
	select {
	case <-waiting.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5 s after a 20 ms deadline")
	}
	for _, c := range []*retry.HopContext{lazy, waiting} {
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Errorf("after the deadline: Err %v, Cause %v; want DeadlineExceeded", c.Err(), context.Cause(c))
		}
	}
	select {
	case <-lazy.Done():
	default:
		t.Error("Done asked for after the deadline is not closed")
	}
}

func TestHopContextFollowsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	c := startHop(parent, time.Minute, false)
	defer c.End()
	child, stop := context.WithCancel(c)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from the hop context did not end with the request's")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err after the parent ended = %v, want Canceled", c.Err())
	}
}

// Contexts derived from a HopContext register with the deadline's context
// itself, as they would with context.WithDeadline's: no goroutine each.
func TestHopContextDerivesWithoutGoroutines(t *testing.T) {
	c := startHop(context.Background(), time.Minute, true)
	before := runtime.NumGoroutine()
	var stops []context.CancelFunc
	for range 20 {
		ctx, stop := context.WithCancel(c)
		stops = append(stops, stop)
		if !retry.NoRetry(ctx) {
			t.Fatal("derived context lost the retry mark")
		}
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("20 derived contexts started %d goroutines", n-before)
	}
	child, stop := context.WithCancel(c)
	defer stop()
	c.End()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("End did not end the derived contexts")
	}
	for _, s := range stops {
		s()
	}
}

func TestHopContextEnd(t *testing.T) {
	// Ended before anything waited: the context is done from then on.
	c := startHop(context.Background(), time.Minute, false)
	c.End()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err after End = %v, want Canceled", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done after End is not closed")
	}
	// Without a timeout the context only marks the call: it is the
	// parent's in all else.
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	mark := startHop(parent, 0, true)
	if mark.Done() != parent.Done() || mark.Err() != nil {
		t.Error("a hop context without a timeout does not share its parent's Done")
	}
	if _, ok := mark.Deadline(); ok {
		t.Error("a hop context without a timeout has a deadline")
	}
	mark.End()
	if mark.Err() != nil || !retry.NoRetry(mark) {
		t.Errorf("after End, Err %v and NoRetry %v; want the parent's nil and the mark", mark.Err(), retry.NoRetry(mark))
	}
	if retry.NoRetry(startHop(parent, time.Second, false)) {
		t.Error("a hop context without the mark says NoRetry")
	}
}

// A HopContext kept in a value the server allocates anyway costs nothing
// for a handler that does not wait on it.
func TestHopContextAllocations(t *testing.T) {
	type request struct {
		ctx retry.HopContext
	}
	r := new(request)
	parent := context.Background()
	hop := retry.Hop{Timeout: time.Second, HasTimeout: true, NoRetry: true}
	allocs := testing.AllocsPerRun(100, func() {
		r.ctx = retry.HopContext{}
		r.ctx.Start(parent, hop, time.Now())
		_ = retry.NoRetry(&r.ctx)
		_, _ = r.ctx.Deadline()
		_ = r.ctx.Err()
		r.ctx.End()
	})
	if allocs != 0 {
		t.Errorf("a hop context allocates %v times, want 0", allocs)
	}
}
