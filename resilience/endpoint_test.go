package resilience_test

import (
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
)

func TestEndpointAvailable(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var e resilience.Endpoint

	if !e.Available(base.UnixNano()) {
		t.Fatal("new endpoint: Available = false, want true")
	}

	e.MarkDown(base.Add(time.Minute))
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before the mark", base, false},
		{"just before it ends", base.Add(time.Minute - time.Nanosecond), false},
		{"when it ends", base.Add(time.Minute), true},
		{"after it ends", base.Add(time.Hour), true},
	}
	for _, tt := range tests {
		if got := e.Available(tt.at.UnixNano()); got != tt.want {
			t.Errorf("marked down for a minute, Available %s = %v, want %v", tt.name, got, tt.want)
		}
	}

	e.MarkUp()
	if !e.Available(base.UnixNano()) {
		t.Error("after MarkUp: Available = false, want true")
	}
	e.MarkUp()
	if !e.Available(base.UnixNano()) {
		t.Error("after a second MarkUp: Available = false, want true")
	}

	// A later MarkDown replaces the earlier one, even if it ends sooner.
	e.MarkDown(base.Add(time.Hour))
	e.MarkDown(base.Add(time.Second))
	if !e.Available(base.Add(2 * time.Second).UnixNano()) {
		t.Error("MarkDown did not replace the earlier mark")
	}
}

func TestEndpointAvailableWithoutClock(t *testing.T) {
	// The pickers test Available(0) to learn, without reading the clock,
	// that an endpoint carries no down mark.
	var e resilience.Endpoint
	if !e.Available(0) {
		t.Fatal("new endpoint: Available(0) = false, want true")
	}
	e.MarkDown(time.Now().Add(-time.Hour))
	if e.Available(0) {
		t.Error("marked down (even in the past): Available(0) = true, want false")
	}
	e.MarkUp()
	if !e.Available(0) {
		t.Error("after MarkUp: Available(0) = false, want true")
	}
}

func TestEndpointInFlight(t *testing.T) {
	var e resilience.Endpoint
	if got := e.InFlight(); got != 0 {
		t.Fatalf("new endpoint: InFlight = %d, want 0", got)
	}
	e.Begin()
	e.Begin()
	if got := e.InFlight(); got != 2 {
		t.Fatalf("after two Begin: InFlight = %d, want 2", got)
	}
	e.End()
	if got := e.InFlight(); got != 1 {
		t.Fatalf("after one End: InFlight = %d, want 1", got)
	}
	e.End()
	if got := e.InFlight(); got != 0 {
		t.Fatalf("after both End: InFlight = %d, want 0", got)
	}
}

func TestEndpointConcurrent(t *testing.T) {
	const goroutines, requests = 8, 1000
	var e resilience.Endpoint
	peak := make([]int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range requests {
				e.Begin()
				peak[g] = max(peak[g], e.InFlight())
				if i%2 == 0 {
					e.MarkDown(time.Now().Add(time.Hour))
				} else {
					e.MarkUp()
				}
				_ = e.Available(time.Now().UnixNano())
				e.End()
			}
		})
	}
	wg.Wait()
	if got := e.InFlight(); got != 0 {
		t.Errorf("after balanced Begin/End: InFlight = %d, want 0", got)
	}
	for g, p := range peak {
		if p < 1 || p > goroutines {
			t.Errorf("goroutine %d saw InFlight %d, want 1..%d", g, p, goroutines)
		}
	}
	e.MarkUp()
	if !e.Available(0) {
		t.Error("after final MarkUp: Available(0) = false, want true")
	}
}

// BenchmarkAvailable measures what a clock read would add to every pick,
// compared with the clock-free test the pickers make first.
func BenchmarkAvailable(b *testing.B) {
	var e resilience.Endpoint
	b.Run("clock", func(b *testing.B) {
		for b.Loop() {
			if !e.Available(time.Now().UnixNano()) {
				b.Fatal("not available")
			}
		}
	})
	b.Run("no-clock", func(b *testing.B) {
		for b.Loop() {
			if !e.Available(0) {
				b.Fatal("not available")
			}
		}
	})
}
