package leastrequest_test

import (
	"github.com/weftmesh/weft/resilience/internal/pickertest"

	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

func TestPickSlowStart(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := clocktest.New(start)
	eps := pickertest.Endpoints(2)
	eps[0].ReadySince = start.Add(-time.Hour)
	eps[1].ReadySince = start
	pickertest.SetInFlight(t, eps[0], 3) // load 4 against the new one's 1
	p := leastrequest.New(resilience.BuildOptions{SlowStart: 10 * time.Second, Now: clock.Now}).Build(eps)
	// At 10% the idle new endpoint's load is 1 / 0.1 = 10 > 4.
	if c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 100); c[0] != 100 {
		t.Errorf("new endpoint at 10%%: counts %v, want all on the loaded old one", c)
	}
	clock.Set(start.Add(3 * time.Second)) // factor 0.37: 2.7 < 4
	if c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 100); c[1] != 100 {
		t.Errorf("new endpoint at 37%%: counts %v, want all on it", c)
	}
}

func TestPickSlowStartDoesNotAllocate(t *testing.T) {
	eps := pickertest.Endpoints(100)
	for _, e := range eps {
		e.ReadySince = time.Now()
	}
	p := leastrequest.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Pick(resilience.PickInfo{Avoid: eps[0]}) }); allocs != 0 {
		t.Errorf("ramping: Pick allocates %.1f times, want 0", allocs)
	}
}
