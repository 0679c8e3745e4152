package zoneaware_test

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/roundrobin"
	"github.com/weftmesh/weft/resilience/zoneaware"
)

// zoned returns endpoints whose zones are given in order.
func zoned(zones ...string) []*resilience.Endpoint {
	eps := pickertest.Endpoints(len(zones))
	for i, z := range zones {
		eps[i].Zone = z
	}
	return eps
}

func TestPickEmpty(t *testing.T) {
	p := zoneaware.New(roundrobin.New(), "a", 0.5).Build(nil)
	if e, err := p.Pick(resilience.PickInfo{}); !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
		t.Errorf("Pick = %v, %v; want nil, ErrNoEndpoint", e, err)
	}
}

func TestPickPrefersLocalZone(t *testing.T) {
	tests := []struct {
		name       string
		minHealthy float64
		down       []int
		avoid      int // -1 for none
		local      bool
	}{
		{"all healthy", 0.5, nil, -1, true},
		{"half of the zone down", 0.5, []int{0, 1}, -1, true},
		{"more than half down", 0.5, []int{0, 1, 2}, -1, false},
		{"avoided counts as unhealthy", 0.5, []int{0}, 1, true},
		{"avoided tips the balance", 0.75, []int{0}, 1, false},
		{"zero means the default", 0, []int{0, 1, 2}, -1, false},
		{"one means every endpoint", 1, []int{0}, -1, false},
		{"above one means one", 7, nil, -1, true},
		{"NaN means the default", math.NaN(), []int{0, 1}, -1, true},
		{"remote marks do not matter", 0.5, []int{4, 5}, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := zoned("a", "a", "a", "a", "b", "b")
			for _, i := range tt.down {
				pickertest.MarkDown(eps[i])
			}
			var info resilience.PickInfo
			if tt.avoid >= 0 {
				info.Avoid = eps[tt.avoid]
			}
			p := zoneaware.New(roundrobin.New(), "a", tt.minHealthy).Build(eps)
			c := pickertest.Counts(t, p, eps, info, 600)
			remote := c[4] + c[5]
			if tt.local && remote != 0 {
				t.Errorf("counts %v, want none in zone b", c)
			}
			if !tt.local && remote == 0 {
				t.Errorf("counts %v, want traffic spread to zone b", c)
			}
			for _, i := range tt.down {
				if c[i] != 0 {
					t.Errorf("down endpoint %d picked %d times", i, c[i])
				}
			}
		})
	}
}

func TestPickWithoutPreference(t *testing.T) {
	tests := []struct {
		name  string
		zone  string
		zones []string
	}{
		{"no local zone", "", []string{"a", "b"}},
		{"no endpoint in the zone", "c", []string{"a", "b"}},
		{"every endpoint in the zone", "a", []string{"a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := zoned(tt.zones...)
			p := zoneaware.New(roundrobin.New(), tt.zone, 0.5).Build(eps)
			c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 100)
			if c[0] != 50 || c[1] != 50 {
				t.Errorf("counts %v, want an even rotation over both", c)
			}
		})
	}
}

func TestPickConcurrent(t *testing.T) {
	eps := zoned("a", "a", "b", "b")
	p := zoneaware.New(roundrobin.New(), "a", 0.5).Build(eps)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if i%10 == 0 {
					pickertest.MarkDown(eps[(g+i)%2])
					eps[(g+i+1)%2].MarkUp()
				}
				if e, err := p.Pick(resilience.PickInfo{}); err != nil || pickertest.IndexOf(eps, e) < 0 {
					t.Errorf("Pick = %v, %v", e, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, n := range []int{3, 100} {
		eps := pickertest.Endpoints(n)
		for i, e := range eps {
			e.Zone = []string{"a", "b", "c"}[i%3]
		}
		p := zoneaware.New(roundrobin.New(), "a", 0.5).Build(eps)
		for _, down := range []bool{false, true} {
			if down {
				for i := 0; i < n; i += 3 {
					pickertest.MarkDown(eps[i])
				}
			}
			if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Pick(resilience.PickInfo{Avoid: eps[0]}) }); allocs != 0 {
				t.Errorf("n=%d down=%v: Pick allocates %.1f times, want 0", n, down, allocs)
			}
		}
	}
}
