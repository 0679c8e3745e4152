package random_test

import (
	"github.com/weftmesh/weft/resilience/internal/pickertest"

	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/random"
)

// The client engine registers the balancer; so do its tests.
func init() { resilience.Register(random.Balancer{}) }

func TestName(t *testing.T) {
	if random.Name != "random" {
		t.Errorf("Name = %q, want %q", random.Name, "random")
	}
	if err := (resilience.BalancerConfig{Name: random.Name}).Validate(); err != nil {
		t.Errorf("BalancerConfig does not accept Name: %v", err)
	}
}

func TestPickEmptyAndSingle(t *testing.T) {
	for _, eps := range [][]*resilience.Endpoint{nil, {}} {
		if e, err := random.New().Build(eps).Pick(resilience.PickInfo{}); !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
			t.Errorf("Pick on %d endpoints = %v, %v; want nil, ErrNoEndpoint", len(eps), e, err)
		}
	}
	eps := pickertest.Endpoints(1)
	pickertest.MarkDown(eps[0])
	if e := pickertest.MustPick(t, random.New().Build(eps), eps, resilience.PickInfo{Avoid: eps[0]}); e != eps[0] {
		t.Fatalf("Pick = %v, want the only endpoint", e)
	}
}

// within reports whether got/total is within tol (absolute) of want.
func within(got, total int, want, tol float64) bool {
	return math.Abs(float64(got)/float64(total)-want) <= tol
}

func TestPickWeighted(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
	}{
		{"equal", []uint32{1, 1, 1, 1}},
		{"3:1", []uint32{3, 1}},
		{"zero means one", []uint32{0, 1, 2}},
		{"wide", []uint32{1, 10, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(len(tt.weights))
			var sum float64
			for i, w := range tt.weights {
				eps[i].Weight = w
				sum += float64(max(w, 1))
			}
			const picks = 100000
			c := pickertest.Counts(t, random.New().Build(eps), eps, resilience.PickInfo{}, picks)
			for i, w := range tt.weights {
				// 0.01 is more than five standard deviations at this size.
				if want := float64(max(w, 1)) / sum; !within(c[i], picks, want, 0.01) {
					t.Errorf("endpoint %d (weight %d): share %.3f, want %.3f: %v", i, w, float64(c[i])/picks, want, c)
				}
			}
		})
	}
}

func TestPickSkipsUnusable(t *testing.T) {
	tests := []struct {
		name    string
		down    []int
		avoid   int // -1 for none
		allowed []int
	}{
		{"one down", []int{1}, -1, []int{0, 2, 3}},
		{"avoid", nil, 2, []int{0, 1, 3}},
		{"avoid and down", []int{0}, 3, []int{1, 2}},
		{"only the avoided one is up", []int{0, 1, 2}, 3, []int{3}},
		{"all down", []int{0, 1, 2, 3}, -1, []int{0, 1, 2, 3}},
		{"all down, one avoided", []int{0, 1, 2, 3}, 1, []int{0, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(4)
			eps[3].Weight = 5 // heavy, so fallbacks must respect rank first
			for _, i := range tt.down {
				pickertest.MarkDown(eps[i])
			}
			var info resilience.PickInfo
			if tt.avoid >= 0 {
				info.Avoid = eps[tt.avoid]
			}
			c := pickertest.Counts(t, random.New().Build(eps), eps, info, 4000)
			allowed := make([]bool, len(eps))
			for _, i := range tt.allowed {
				allowed[i] = true
			}
			for i, n := range c {
				if allowed[i] != (n > 0) {
					t.Errorf("endpoint %d picked %d times, allowed %v: %v", i, n, allowed[i], c)
				}
			}
		})
	}
}

func TestPickFindsLastUsable(t *testing.T) {
	eps := pickertest.Endpoints(100)
	for _, e := range eps {
		pickertest.MarkDown(e)
	}
	eps[57].MarkUp()
	p := random.New().Build(eps)
	for range 1000 {
		if e := pickertest.MustPick(t, p, eps, resilience.PickInfo{}); e != eps[57] {
			t.Fatalf("Pick = %s, want the only available endpoint", e.Addr)
		}
	}
}

func TestPickSlowStart(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := clocktest.New(start)
	eps := pickertest.Endpoints(2)
	eps[0].ReadySince = start.Add(-time.Hour)
	eps[1].ReadySince = start
	p := random.New(resilience.BuildOptions{SlowStart: 10 * time.Second, Now: clock.Now}).Build(eps)
	const picks = 50000
	for _, tt := range []struct {
		at   time.Duration
		want float64 // share of the new endpoint
	}{
		{0, 0.1 / 1.1},
		{5 * time.Second, 0.55 / 1.55},
		{10 * time.Second, 0.5},
		{time.Hour, 0.5},
	} {
		clock.Set(start.Add(tt.at))
		c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, picks)
		if !within(c[1], picks, tt.want, 0.015) {
			t.Errorf("at %v: new endpoint share %.3f, want %.3f", tt.at, float64(c[1])/picks, tt.want)
		}
	}
}

func TestPickInjectedRand(t *testing.T) {
	eps := pickertest.Endpoints(4)
	eps[0].Weight = 2 // cumulative weights 2, 3, 4, 5
	var x uint64
	p := random.New(resilience.BuildOptions{Rand: func() uint64 { return x }}).Build(eps)
	for _, tt := range []struct {
		frac float64
		want int
	}{{0, 0}, {0.39, 0}, {0.41, 1}, {0.61, 2}, {0.99, 3}} {
		x = uint64(tt.frac * (1 << 63) * 2)
		if got := pickertest.IndexOf(eps, pickertest.MustPick(t, p, eps, resilience.PickInfo{})); got != tt.want {
			t.Errorf("random fraction %.2f: picked %d, want %d", tt.frac, got, tt.want)
		}
	}
}

func TestPickConcurrent(t *testing.T) {
	eps := pickertest.Endpoints(6)
	for i, e := range eps {
		e.Weight = uint32(i)
	}
	p := random.New().Build(eps)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if i%50 == 0 {
					pickertest.MarkDown(eps[(g+i)%len(eps)])
					eps[(g+i+1)%len(eps)].MarkUp()
				}
				e, err := p.Pick(resilience.PickInfo{Avoid: eps[g%len(eps)]})
				if err != nil || pickertest.IndexOf(eps, e) < 0 {
					t.Errorf("Pick = %v, %v", e, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPickDoesNotAllocate(t *testing.T) {
	start := time.Now()
	clock := clocktest.New(start)
	for _, n := range []int{3, 100} {
		for _, ramping := range []bool{false, true} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				e.Weight = uint32(i % 3)
				if ramping {
					e.ReadySince = start
				}
			}
			p := random.New(resilience.BuildOptions{SlowStart: time.Minute, Now: clock.Now}).Build(eps)
			for _, info := range []resilience.PickInfo{{}, {Avoid: eps[1]}} {
				allocs := testing.AllocsPerRun(1000, func() {
					if _, err := p.Pick(info); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("n=%d ramping=%v: Pick allocates %.1f times, want 0", n, ramping, allocs)
				}
			}
			for _, e := range eps {
				pickertest.MarkDown(e)
			}
			if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Pick(resilience.PickInfo{Avoid: eps[0]}) }); allocs != 0 {
				t.Errorf("n=%d ramping=%v all down: Pick allocates %.1f times, want 0", n, ramping, allocs)
			}
		}
	}
}
