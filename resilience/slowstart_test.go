package resilience_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// countingClock is a settable clock that counts its readings.
type countingClock struct {
	now   atomic.Int64
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return time.Unix(0, c.now.Load())
}

func (c *countingClock) set(t time.Time) { c.now.Store(t.UnixNano()) }

func TestRamp(t *testing.T) {
	clock := &countingClock{}
	clock.set(epoch)
	const window = 10 * time.Second
	fresh := &resilience.Endpoint{ReadySince: epoch}
	older := &resilience.Endpoint{ReadySince: epoch.Add(-5 * time.Second)}
	unknown := &resilience.Endpoint{}
	r := resilience.NewRamp([]*resilience.Endpoint{fresh, older, unknown}, resilience.BuildOptions{SlowStart: window, Now: clock.Now})

	tests := []struct {
		at                  time.Duration
		fresh, older, known float64
	}{
		{0, 0.1, 0.55, 1},
		{5 * time.Second, 0.55, 1, 1},
		{9 * time.Second, 0.91, 1, 1},
	}
	for _, tt := range tests {
		clock.set(epoch.Add(tt.at))
		now, ok := r.Active()
		if !ok {
			t.Fatalf("at %v: Active = false, want true", tt.at)
		}
		for _, c := range []struct {
			e    *resilience.Endpoint
			want float64
		}{{fresh, tt.fresh}, {older, tt.older}, {unknown, tt.known}} {
			if got := r.Factor(c.e, now); !near(got, c.want) {
				t.Errorf("at %v: Factor = %v, want %v", tt.at, got, c.want)
			}
		}
	}

	// Before ReadySince (a clock behind the catalog's): the least share.
	if got := r.Factor(fresh, epoch.Add(-time.Hour).UnixNano()); got != 0.1 {
		t.Errorf("before ReadySince: Factor = %v, want 0.1", got)
	}

	clock.set(epoch.Add(window))
	if _, ok := r.Active(); ok {
		t.Fatal("at the end of the window: Active = true, want false")
	}
	reads := clock.reads.Load()
	clock.set(epoch) // even a clock going back does not restart the ramp
	for range 10 {
		if _, ok := r.Active(); ok {
			t.Fatal("after the ramp ended: Active = true")
		}
	}
	if got := clock.reads.Load(); got != reads {
		t.Errorf("after the ramp ended, Active read the clock %d more times, want 0", got-reads)
	}
}

func TestRampOff(t *testing.T) {
	clock := &countingClock{}
	eps := []*resilience.Endpoint{{ReadySince: time.Now()}}
	for _, opts := range []resilience.BuildOptions{
		{Now: clock.Now},
		{SlowStart: -time.Second, Now: clock.Now},
	} {
		r := resilience.NewRamp(eps, opts)
		if _, ok := r.Active(); ok {
			t.Errorf("SlowStart %v: Active = true, want false", opts.SlowStart)
		}
		if got := r.Factor(eps[0], 0); got != 1 {
			t.Errorf("SlowStart %v: Factor = %v, want 1", opts.SlowStart, got)
		}
	}
	if got := clock.reads.Load(); got != 0 {
		t.Errorf("slow start off: clock read %d times, want 0", got)
	}
	// Only endpoints without ReadySince: nothing ever ramps.
	r := resilience.NewRamp([]*resilience.Endpoint{{}}, resilience.BuildOptions{SlowStart: time.Minute, Now: clock.Now})
	if _, ok := r.Active(); ok {
		t.Error("no ReadySince: Active = true, want false")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := resilience.Options(nil)
	if o.SlowStart != 0 || o.Now != nil || o.Rand != nil {
		t.Fatalf("Options(nil) = %+v, want zero", o)
	}
	if o.Clock() == nil || o.Random() == nil {
		t.Fatal("default Clock or Random is nil")
	}
	if d := time.Since(o.Clock()()); d < 0 || d > time.Minute {
		t.Errorf("default clock is %v off the wall clock", d)
	}
	want := resilience.BuildOptions{SlowStart: time.Second}
	if got := resilience.Options([]resilience.BuildOptions{want}); got.SlowStart != want.SlowStart {
		t.Errorf("Options = %+v, want %+v", got, want)
	}
	fixed := func() uint64 { return 42 }
	if got := (resilience.BuildOptions{Rand: fixed}).Random()(); got != 42 {
		t.Errorf("Random() = %d, want the injected source", got)
	}
}
