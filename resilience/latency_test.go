package resilience_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// near reports whether got is within 0.1% of want.
func near(got, want float64) bool { return math.Abs(got-want) <= 1e-3*math.Abs(want) }

func TestObservePeakAndDecay(t *testing.T) {
	var e resilience.Endpoint
	if got := e.Latency(epoch.UnixNano()); got != 0 {
		t.Fatalf("never observed: Latency = %v, want 0", got)
	}
	e.ObserveAt(epoch, 20*time.Millisecond, false)
	if got := e.Latency(epoch.UnixNano()); got != float64(20*time.Millisecond) {
		t.Fatalf("first observation: Latency = %v, want 20ms", time.Duration(got))
	}

	// A slower observation replaces the average at once.
	t1 := epoch.Add(time.Second)
	e.ObserveAt(t1, 100*time.Millisecond, false)
	if got := e.Latency(t1.UnixNano()); got != float64(100*time.Millisecond) {
		t.Fatalf("after a slow one: Latency = %v, want 100ms", time.Duration(got))
	}

	// A faster one moves it with weight 1 - exp(-Δt/τ).
	t2 := t1.Add(resilience.LatencyDecay)
	e.ObserveAt(t2, 10*time.Millisecond, false)
	w := math.Exp(-1)
	want := 100e6*w + 10e6*(1-w)
	if got := e.Latency(t2.UnixNano()); !near(got, want) {
		t.Fatalf("after a fast one τ later: Latency = %v, want %v", time.Duration(got), time.Duration(want))
	}

	// Without observations, reads decay towards zero.
	t3 := t2.Add(2 * resilience.LatencyDecay)
	if got := e.Latency(t3.UnixNano()); !near(got, want*math.Exp(-2)) {
		t.Fatalf("2τ later: Latency = %v, want %v", time.Duration(got), time.Duration(want*math.Exp(-2)))
	}
	// A read earlier than the latest observation does not grow it.
	if got := e.Latency(t1.UnixNano()); !near(got, want) {
		t.Fatalf("read before the latest observation: Latency = %v, want %v", time.Duration(got), time.Duration(want))
	}
}

func TestObserveOutOfOrder(t *testing.T) {
	var e resilience.Endpoint
	e.ObserveAt(epoch.Add(time.Minute), 50*time.Millisecond, false)
	// An older observation counts as simultaneous: no decay, so a faster
	// sample leaves the estimate unchanged.
	e.ObserveAt(epoch, time.Millisecond, false)
	if got := e.Latency(epoch.Add(time.Minute).UnixNano()); got != float64(50*time.Millisecond) {
		t.Fatalf("Latency = %v, want 50ms", time.Duration(got))
	}
}

func TestObserveFailurePenalty(t *testing.T) {
	tests := []struct {
		name  string
		prior time.Duration // 0: none
		rtt   time.Duration
		want  time.Duration
	}{
		{"fast failure counts as the penalty", 0, time.Millisecond, resilience.FailurePenalty},
		{"slow failure counts as itself", 0, 3 * time.Second, 3 * time.Second},
		{"failure on a slow endpoint doubles it", 2 * time.Second, time.Millisecond, 4 * time.Second},
		{"penalty is bounded", 20 * time.Second, time.Millisecond, resilience.MaxFailurePenalty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e resilience.Endpoint
			if tt.prior > 0 {
				e.ObserveAt(epoch, tt.prior, false)
			}
			e.ObserveAt(epoch, tt.rtt, true)
			if got := e.Latency(epoch.UnixNano()); got != float64(tt.want) {
				t.Fatalf("Latency = %v, want %v", time.Duration(got), tt.want)
			}
		})
	}
}

func TestObserveConcurrent(t *testing.T) {
	// Every observer reports the same latency, so whatever the order, the
	// estimate must end exactly there.
	var e resilience.Endpoint
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				at := epoch.Add(time.Duration(g*each+i) * time.Millisecond)
				e.ObserveAt(at, 7*time.Millisecond, false)
				_ = e.Latency(at.UnixNano())
			}
		})
	}
	wg.Wait()
	last := epoch.Add(goroutines * each * time.Millisecond)
	if got := e.Latency(last.UnixNano()); got > float64(7*time.Millisecond) || got < float64(7*time.Millisecond)*0.99 {
		t.Fatalf("Latency = %v, want 7ms", time.Duration(got))
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	var e resilience.Endpoint
	at := epoch
	allocs := testing.AllocsPerRun(1000, func() {
		at = at.Add(time.Millisecond)
		e.ObserveAt(at, 3*time.Millisecond, at.Nanosecond()%3 == 0)
		e.Observe(time.Millisecond, false)
		_ = e.Latency(at.UnixNano())
	})
	if allocs != 0 {
		t.Fatalf("Observe and Latency allocate %.1f times, want 0", allocs)
	}
}

func BenchmarkObserve(b *testing.B) {
	var e resilience.Endpoint
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.Observe(time.Millisecond, false)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e.Observe(time.Millisecond, false)
			}
		})
	})
}
