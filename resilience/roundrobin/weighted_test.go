package roundrobin_test

import (
	"github.com/weftmesh/weft/resilience/internal/pickertest"

	"math"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

func TestPickWeightedExact(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
	}{
		{"3:1", []uint32{3, 1}},
		{"zero means one", []uint32{0, 2}},
		{"common divisor", []uint32{30, 10, 20}},
		{"mixed", []uint32{5, 1, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(len(tt.weights))
			var sum uint32
			for i, w := range tt.weights {
				eps[i].Weight = w
				sum += max(w, 1)
			}
			p := roundrobin.New().Build(eps)
			const cycles = 20
			c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, int(sum)*cycles)
			for i, w := range tt.weights {
				if c[i] != int(max(w, 1))*cycles {
					t.Errorf("endpoint %d (weight %d): %d picks, want %d: %v", i, w, c[i], int(max(w, 1))*cycles, c)
				}
			}
		})
	}
}

func TestPickWeightedSmooth(t *testing.T) {
	eps := pickertest.Endpoints(2)
	eps[0].Weight = 3
	p := roundrobin.New().Build(eps)
	var b strings.Builder
	for range 12 {
		b.WriteByte("AB"[pickertest.IndexOf(eps, pickertest.MustPick(t, p, eps, resilience.PickInfo{}))])
	}
	// The rotation starts anywhere in the cycle A A B A.
	if got := b.String(); !strings.Contains("AABAAABAAABAAABA", got) || strings.Contains(got, "BB") || strings.Contains(got, "AAAA") {
		t.Errorf("weights 3:1 rotate %s, want the cycle AABA", got)
	}
}

func TestPickWeightedSkipsUnusable(t *testing.T) {
	eps := pickertest.Endpoints(4)
	for i, e := range eps {
		e.Weight = uint32(i + 1)
	}
	pickertest.MarkDown(eps[3])
	p := roundrobin.New().Build(eps)
	c := pickertest.Counts(t, p, eps, resilience.PickInfo{Avoid: eps[2]}, 3000)
	if c[2] != 0 || c[3] != 0 {
		t.Fatalf("avoided or down endpoint picked: %v", c)
	}
	if c[0] == 0 || c[1] <= c[0] {
		t.Errorf("weights 1:2 among the usable: counts %v", c)
	}
	for _, e := range eps {
		pickertest.MarkDown(e)
	}
	c = pickertest.Counts(t, p, eps, resilience.PickInfo{Avoid: eps[0]}, 1000)
	if c[0] != 0 {
		t.Errorf("all down: the avoided endpoint was picked %d times", c[0])
	}
	eps[0].MarkUp()
	if c = pickertest.Counts(t, p, eps, resilience.PickInfo{}, 1000); c[0] != 1000 {
		t.Errorf("one available endpoint: counts %v, want all on it", c)
	}
}

func TestPickWeightedLargeWeights(t *testing.T) {
	// Weights whose cycle exceeds MaxCycle are scaled; shares stay within
	// a turn per cycle.
	eps := pickertest.Endpoints(3)
	eps[0].Weight = 1 << 31
	eps[1].Weight = 1 << 30
	eps[2].Weight = 1
	p := roundrobin.New().Build(eps)
	c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 3*roundrobin.MaxCycle)
	if r := float64(c[0]) / float64(c[1]); math.Abs(r-2) > 0.01 {
		t.Errorf("weights 2³¹:2³⁰: ratio %.3f, want 2: %v", r, c)
	}
	if c[2] == 0 {
		t.Errorf("the weight-1 endpoint never picked: %v", c)
	}
}

func TestPickSlowStart(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := clocktest.New(start)
	eps := pickertest.Endpoints(2)
	eps[0].ReadySince = start.Add(-time.Hour)
	eps[1].ReadySince = start
	p := roundrobin.New(resilience.BuildOptions{SlowStart: 10 * time.Second, Now: clock.Now}).Build(eps)
	for _, tt := range []struct {
		at   time.Duration
		want int // picks of the new endpoint in 1100: 1100 × f/(1+f)
	}{{0, 100}, {5 * time.Second, 390}} {
		clock.Set(start.Add(tt.at))
		c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 1100)
		// Smooth weighted round robin is exact to within one turn.
		if math.Abs(float64(c[1]-tt.want)) > 2 {
			t.Errorf("at %v: new endpoint got %d of 1100, want %d", tt.at, c[1], tt.want)
		}
	}
	clock.Set(start.Add(time.Minute))
	// Ramped: back to the exact plain rotation.
	seq := make([]*resilience.Endpoint, 6)
	for i := range seq {
		seq[i] = pickertest.MustPick(t, p, eps, resilience.PickInfo{})
		if i > 0 && seq[i] == seq[i-1] {
			t.Fatalf("after the ramp, picks %d and %d are both %s", i-1, i, seq[i].Addr)
		}
	}
}

func TestPickWeightedDoesNotAllocate(t *testing.T) {
	start := time.Now()
	for _, n := range []int{3, 100} {
		for _, ramping := range []bool{false, true} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				e.Weight = uint32(1 + i%3)
				if ramping {
					e.ReadySince = start
				}
			}
			p := roundrobin.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
			for _, info := range []resilience.PickInfo{{}, {Avoid: eps[1]}} {
				if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Pick(info) }); allocs != 0 {
					t.Errorf("n=%d ramping=%v: Pick allocates %.1f times, want 0", n, ramping, allocs)
				}
			}
			for _, e := range eps {
				pickertest.MarkDown(e)
			}
			if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Pick(resilience.PickInfo{}) }); allocs != 0 {
				t.Errorf("n=%d ramping=%v all down: Pick allocates %.1f times, want 0", n, ramping, allocs)
			}
		}
	}
}
