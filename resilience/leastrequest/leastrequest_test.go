package leastrequest_test

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

// The client engine registers the balancer; so do its tests.
func init() { resilience.Register(leastrequest.Balancer{}) }

func TestName(t *testing.T) {
	if leastrequest.Name != "least_request" {
		t.Errorf("Name = %q, want %q", leastrequest.Name, "least_request")
	}
}

func TestPickEmpty(t *testing.T) {
	for _, eps := range [][]*resilience.Endpoint{nil, {}} {
		p := leastrequest.New().Build(eps)
		e, err := p.Pick(resilience.PickInfo{})
		if !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
			t.Errorf("Pick on %d endpoints = %v, %v; want nil, ErrNoEndpoint", len(eps), e, err)
		}
	}
}

func TestPickSingle(t *testing.T) {
	eps := pickertest.Endpoints(1)
	pickertest.MarkDown(eps[0])
	pickertest.SetInFlight(t, eps[0], 3)
	p := leastrequest.New().Build(eps)
	if e := pickertest.MustPick(t, p, eps, resilience.PickInfo{Avoid: eps[0]}); e != eps[0] {
		t.Fatalf("Pick = %v, want the only endpoint", e)
	}
}

func TestPickEqualLoadIsEven(t *testing.T) {
	for _, n := range []int{2, 4, 10} {
		eps := pickertest.Endpoints(n)
		for _, e := range eps {
			pickertest.SetInFlight(t, e, 2)
		}
		p := leastrequest.New().Build(eps)
		const picks = 40000
		c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, picks)
		// Each count is binomial with mean picks/n; 6% of the mean is more
		// than six standard deviations for these sizes.
		mean := float64(picks) / float64(n)
		for i, got := range c {
			if math.Abs(float64(got)-mean) > 0.06*mean {
				t.Errorf("n=%d: endpoint %d picked %d times, want %.0f ± 6%%: %v", n, i, got, mean, c)
			}
		}
	}
}

func TestPickPrefersLessLoaded(t *testing.T) {
	eps := pickertest.Endpoints(4)
	for i, e := range eps {
		pickertest.SetInFlight(t, e, 10*i)
	}
	p := leastrequest.New().Build(eps)
	c := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 30000)
	// An endpoint wins exactly when it is drawn with a busier one: of the
	// six pairs, the idlest is in 3, the next in 2, the next in 1.
	want := []float64{3.0 / 6, 2.0 / 6, 1.0 / 6, 0}
	for i := range eps {
		if got := pickertest.Share(c, i); math.Abs(got-want[i]) > 0.02 {
			t.Errorf("endpoint with %d in flight got share %.3f, want %.3f: %v", eps[i].InFlight(), got, want[i], c)
		}
	}
	if c[3] != 0 {
		t.Errorf("busiest endpoint picked %d times, want 0", c[3])
	}

	// With two endpoints both are always drawn, so the idler always wins.
	two := eps[1:3]
	c = pickertest.Counts(t, leastrequest.New().Build(two), two, resilience.PickInfo{}, 1000)
	if c[0] != 1000 {
		t.Errorf("two endpoints with 10 and 20 in flight: counts %v, want all on the first", c)
	}
}

func TestPickWeighted(t *testing.T) {
	tests := []struct {
		name         string
		inFlight     [2]int
		weight       [2]uint32
		wantA, wantB bool // whether each is picked at all
	}{
		{"in flight over weight", [2]int{5, 2}, [2]uint32{3, 1}, true, false},
		{"idle, heavier wins", [2]int{0, 0}, [2]uint32{1, 2}, false, true},
		{"weight 0 means 1", [2]int{0, 0}, [2]uint32{0, 1}, true, true},
		{"equal ratio ties", [2]int{5, 2}, [2]uint32{2, 1}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(2)
			for i, e := range eps {
				e.Weight = tt.weight[i]
				pickertest.SetInFlight(t, e, tt.inFlight[i])
			}
			c := pickertest.Counts(t, leastrequest.New().Build(eps), eps, resilience.PickInfo{}, 2000)
			if (c[0] > 0) != tt.wantA || (c[1] > 0) != tt.wantB {
				t.Errorf("counts %v, want A picked %v and B picked %v", c, tt.wantA, tt.wantB)
			}
		})
	}
}

func TestPickWeightedSteadyState(t *testing.T) {
	// A closed loop: one request starts per tick and each lasts the same
	// number of ticks. Traffic then settles where in-flight/weight is
	// level, so an endpoint of weight 3 serves about three times as much.
	eps := pickertest.Endpoints(2)
	eps[0].Weight = 3
	eps[1].Weight = 1
	p := leastrequest.New().Build(eps)
	const duration, ticks = 100, 20000
	var running []*resilience.Endpoint
	c := make([]int, 2)
	for tick := range ticks {
		if len(running) == duration {
			running[0].End()
			running = running[1:]
		}
		e := pickertest.MustPick(t, p, eps, resilience.PickInfo{})
		e.Begin()
		running = append(running, e)
		if tick >= duration {
			c[pickertest.IndexOf(eps, e)]++
		}
	}
	for _, e := range running {
		e.End()
	}
	if ratio := float64(c[0]) / float64(c[1]); ratio < 2.8 || ratio > 3.3 {
		t.Errorf("weight 3 vs 1: traffic %v, ratio %.2f, want about 3", c, ratio)
	}
}

func TestPickNegativeInFlight(t *testing.T) {
	// An End without a Begin must not make an endpoint look idler than
	// idle.
	eps := pickertest.Endpoints(2)
	eps[0].End()
	eps[0].End()
	t.Cleanup(func() { eps[0].Begin(); eps[0].Begin() })
	c := pickertest.Counts(t, leastrequest.New().Build(eps), eps, resilience.PickInfo{}, 1000)
	if c[0] == 0 || c[1] == 0 {
		t.Errorf("in flight -2 vs 0: counts %v, want both picked", c)
	}
}

func TestPickSkipsUnusable(t *testing.T) {
	tests := []struct {
		name     string
		down     []int
		avoid    int // -1 for none
		inFlight []int
		// allowed lists the endpoints that may be picked; when one is
		// listed, it must take every pick.
		allowed []int
	}{
		{"one down", []int{1}, -1, nil, []int{0, 2, 3}},
		{"down despite idle", []int{0}, -1, []int{0, 9, 9, 9}, []int{1, 2, 3}},
		{"avoid", nil, 2, []int{9, 9, 0, 9}, []int{0, 1, 3}},
		{"avoid and down", []int{0}, 3, nil, []int{1, 2}},
		{"only the avoided one is up", []int{0, 1, 2}, 3, nil, []int{3}},
		{"all down: least loaded", []int{0, 1, 2, 3}, -1, []int{5, 5, 0, 5}, []int{2}},
		{"all down, one avoided", []int{0, 1, 2, 3}, 1, []int{5, 0, 5, 5}, []int{0, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(4)
			for _, i := range tt.down {
				pickertest.MarkDown(eps[i])
			}
			for i, n := range tt.inFlight {
				pickertest.SetInFlight(t, eps[i], n)
			}
			var info resilience.PickInfo
			if tt.avoid >= 0 {
				info.Avoid = eps[tt.avoid]
			}
			const picks = 3000
			c := pickertest.Counts(t, leastrequest.New().Build(eps), eps, info, picks)
			allowed := make([]bool, len(eps))
			for _, i := range tt.allowed {
				allowed[i] = true
			}
			for i, n := range c {
				if !allowed[i] && n > 0 {
					t.Errorf("endpoint %d picked %d times, want never: %v", i, n, c)
				}
				if allowed[i] && n == 0 {
					t.Errorf("endpoint %d never picked: %v", i, c)
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
	p := leastrequest.New().Build(eps)
	for range 1000 {
		if e := pickertest.MustPick(t, p, eps, resilience.PickInfo{}); e != eps[57] {
			t.Fatalf("Pick = %s, want the only available endpoint %s", e.Addr, eps[57].Addr)
		}
	}
}

func TestPickConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 3000
	eps := pickertest.Endpoints(6)
	p := leastrequest.New().Build(eps)
	stop := make(chan struct{})
	var flipper, wg sync.WaitGroup
	flipper.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e := eps[i%len(eps)]
			if i%3 == 0 {
				e.MarkUp()
			} else {
				pickertest.MarkDown(e)
			}
		}
	})
	for g := range goroutines {
		wg.Go(func() {
			var held []*resilience.Endpoint
			for i := range perGoroutine {
				info := resilience.PickInfo{Avoid: eps[(g+i)%len(eps)]}
				e, err := p.Pick(info)
				if err != nil || pickertest.IndexOf(eps, e) < 0 {
					t.Errorf("Pick = %v, %v", e, err)
					break
				}
				e.Begin()
				held = append(held, e)
				if len(held) == 4 {
					for _, h := range held {
						h.End()
					}
					held = held[:0]
				}
			}
			for _, h := range held {
				h.End()
			}
		})
	}
	wg.Wait()
	close(stop)
	flipper.Wait()
	for i, e := range eps {
		if e.InFlight() != 0 {
			t.Errorf("endpoint %d: InFlight = %d after all requests ended", i, e.InFlight())
		}
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, n := range []int{3, 100} {
		eps := pickertest.Endpoints(n)
		for i, e := range eps {
			pickertest.SetInFlight(t, e, i%5)
			e.Weight = uint32(i % 3)
		}
		p := leastrequest.New().Build(eps)
		tests := []struct {
			name  string
			setup func()
			info  resilience.PickInfo
		}{
			{"healthy", func() {}, resilience.PickInfo{}},
			{"avoid", func() {}, resilience.PickInfo{Avoid: eps[1]}},
			{"half down", func() {
				for i := 0; i < n; i += 2 {
					pickertest.MarkDown(eps[i])
				}
			}, resilience.PickInfo{}},
			{"all down", func() {
				for _, e := range eps {
					pickertest.MarkDown(e)
				}
			}, resilience.PickInfo{Avoid: eps[0]}},
		}
		for _, tt := range tests {
			tt.setup()
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := p.Pick(tt.info); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("n=%d %s: Pick allocates %.1f times per call, want 0", n, tt.name, allocs)
			}
		}
	}
}
