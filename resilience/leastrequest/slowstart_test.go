package leastrequest_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.now.Load()) }

func TestPickSlowStart(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{}
	clock.now.Store(start.UnixNano())
	eps := endpoints(2)
	eps[0].ReadySince = start.Add(-time.Hour)
	eps[1].ReadySince = start
	setInFlight(t, eps[0], 3) // load 4 against the new one's 1
	p := leastrequest.New(resilience.BuildOptions{SlowStart: 10 * time.Second, Now: clock.Now}).Build(eps)
	// At 10% the idle new endpoint's load is 1 / 0.1 = 10 > 4.
	if c := counts(t, p, eps, resilience.PickInfo{}, 100); c[0] != 100 {
		t.Errorf("new endpoint at 10%%: counts %v, want all on the loaded old one", c)
	}
	clock.now.Store(start.Add(3 * time.Second).UnixNano()) // factor 0.37: 2.7 < 4
	if c := counts(t, p, eps, resilience.PickInfo{}, 100); c[1] != 100 {
		t.Errorf("new endpoint at 37%%: counts %v, want all on it", c)
	}
}

func TestPickSlowStartDoesNotAllocate(t *testing.T) {
	eps := endpoints(100)
	for _, e := range eps {
		e.ReadySince = time.Now()
	}
	p := leastrequest.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Pick(resilience.PickInfo{Avoid: eps[0]}) }); allocs != 0 {
		t.Errorf("ramping: Pick allocates %.1f times, want 0", allocs)
	}
}
