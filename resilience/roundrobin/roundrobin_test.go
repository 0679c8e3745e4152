package roundrobin_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

// The client engine registers the balancer; so do its tests.
func init() { resilience.Register(roundrobin.Balancer{}) }

func TestName(t *testing.T) {
	if roundrobin.Name != "round_robin" {
		t.Errorf("Name = %q, want %q", roundrobin.Name, "round_robin")
	}
}

func TestPickEmpty(t *testing.T) {
	for _, eps := range [][]*resilience.Endpoint{nil, {}} {
		p := roundrobin.New().Build(eps)
		e, err := p.Pick(resilience.PickInfo{})
		if !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
			t.Errorf("Pick on %d endpoints = %v, %v; want nil, ErrNoEndpoint", len(eps), e, err)
		}
	}
}

func TestPickSingle(t *testing.T) {
	eps := pickertest.Endpoints(1)
	pickertest.MarkDown(eps[0])
	p := roundrobin.New().Build(eps)
	for range 3 {
		if e := pickertest.MustPick(t, p, eps, resilience.PickInfo{Avoid: eps[0]}); e != eps[0] {
			t.Fatalf("Pick = %v, want the only endpoint", e)
		}
	}
}

func TestPickExactlyEven(t *testing.T) {
	for _, n := range []int{2, 3, 7, 100} {
		eps := pickertest.Endpoints(n)
		p := roundrobin.New().Build(eps)
		const rounds = 50
		seq := make([]*resilience.Endpoint, n*rounds)
		for i := range seq {
			seq[i] = pickertest.MustPick(t, p, eps, resilience.PickInfo{})
		}
		c := make([]int, n)
		for i, e := range seq {
			c[pickertest.IndexOf(eps, e)]++
			if i >= n && seq[i-n] != e {
				t.Fatalf("n=%d: pick %d is %s, but pick %d was %s; want a fixed rotation", n, i, e.Addr, i-n, seq[i-n].Addr)
			}
			if i > 0 && seq[i-1] == e {
				t.Fatalf("n=%d: picks %d and %d are both %s", n, i-1, i, e.Addr)
			}
		}
		for i, got := range c {
			if got != rounds {
				t.Errorf("n=%d: endpoint %d picked %d times, want %d", n, i, got, rounds)
			}
		}
	}
}

func TestPickRandomStart(t *testing.T) {
	eps := pickertest.Endpoints(3)
	first := make([]int, len(eps))
	// The chance that 300 random starts miss one of three endpoints is
	// 3·(2/3)³⁰⁰, far below anything observable.
	for range 300 {
		p := roundrobin.New().Build(eps)
		first[pickertest.IndexOf(eps, pickertest.MustPick(t, p, eps, resilience.PickInfo{}))]++
	}
	for i, c := range first {
		if c == 0 {
			t.Errorf("no picker started at endpoint %d: first picks %v", i, first)
		}
	}
}

func TestPickSkipsUnusable(t *testing.T) {
	tests := []struct {
		name  string
		down  []int
		avoid int // -1 for none
		// want is the exact count per endpoint over 600 picks.
		want []int
	}{
		{"one down", []int{1}, -1, []int{200, 0, 200, 200}},
		{"two adjacent down", []int{1, 2}, -1, []int{300, 0, 0, 300}},
		{"avoid", nil, 2, []int{200, 200, 0, 200}},
		{"avoid and down", []int{0}, 3, []int{0, 300, 300, 0}},
		{"only the avoided one is up", []int{0, 1, 2}, 3, []int{0, 0, 0, 600}},
		{"all down", []int{0, 1, 2, 3}, -1, []int{150, 150, 150, 150}},
		{"all down, one avoided", []int{0, 1, 2, 3}, 1, []int{200, 0, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := pickertest.Endpoints(4)
			for _, i := range tt.down {
				pickertest.MarkDown(eps[i])
			}
			var info resilience.PickInfo
			if tt.avoid >= 0 {
				info.Avoid = eps[tt.avoid]
			}
			p := roundrobin.New().Build(eps)
			got := pickertest.Counts(t, p, eps, info, 600)
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("counts = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestPickExpiredMark(t *testing.T) {
	eps := pickertest.Endpoints(3)
	eps[1].MarkDown(time.Now().Add(-time.Second))
	p := roundrobin.New().Build(eps)
	got := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 300)
	for i, c := range got {
		if c != 100 {
			t.Fatalf("with an expired down mark, counts = %v, want 100 each (endpoint %d)", got, i)
		}
	}
}

func TestPickMarkUp(t *testing.T) {
	eps := pickertest.Endpoints(2)
	pickertest.MarkDown(eps[0])
	p := roundrobin.New().Build(eps)
	if got := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 10); got[0] != 0 {
		t.Fatalf("while down: counts = %v, want endpoint 0 unused", got)
	}
	eps[0].MarkUp()
	if got := pickertest.Counts(t, p, eps, resilience.PickInfo{}, 10); got[0] != 5 {
		t.Fatalf("after MarkUp: counts = %v, want 5 each", got)
	}
}

func TestPickConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 3000
	eps := pickertest.Endpoints(6)
	p := roundrobin.New().Build(eps)

	// Without marks every pick claims exactly one rotation position, so
	// even concurrent picks split exactly evenly.
	c := make([][]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		c[g] = make([]int, len(eps))
		wg.Go(func() {
			for range perGoroutine {
				e, err := p.Pick(resilience.PickInfo{})
				if err != nil {
					t.Errorf("Pick: %v", err)
					return
				}
				c[g][pickertest.IndexOf(eps, e)]++
			}
		})
	}
	wg.Wait()
	for i := range eps {
		total := 0
		for g := range goroutines {
			total += c[g][i]
		}
		if want := goroutines * perGoroutine / len(eps); total != want {
			t.Errorf("endpoint %d picked %d times, want %d", i, total, want)
		}
	}

	// With marks changing underneath, every pick still succeeds and
	// requests are accounted for.
	stop := make(chan struct{})
	var flipper sync.WaitGroup
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
			for i := range perGoroutine {
				info := resilience.PickInfo{Avoid: eps[(g+i)%len(eps)]}
				e, err := p.Pick(info)
				if err != nil || pickertest.IndexOf(eps, e) < 0 {
					t.Errorf("Pick = %v, %v", e, err)
					return
				}
				e.Begin()
				e.End()
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
		p := roundrobin.New().Build(eps)
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
