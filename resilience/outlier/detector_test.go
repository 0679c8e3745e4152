package outlier

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/resilience"
)

func TestEjectsAfterConsecutiveErrors(t *testing.T) {
	d, _, keys := newDetector(t, Config{ConsecutiveErrors: 3}, 4)
	k := keys[0]
	d.Observe(k, ServerError)
	d.Observe(k, GatewayError)
	d.Observe(k, Success) // ends the run
	d.Observe(k, ConnectFailure)
	d.Observe(k, GatewayError)
	if d.Ejected(k) {
		t.Fatal("ejected after 2 errors in a row")
	}
	d.Observe(k, ServerError)
	if !d.Ejected(k) {
		t.Fatal("not ejected after 3 errors in a row")
	}
	if d.EjectedCount() != 1 {
		t.Fatalf("EjectedCount = %d, want 1", d.EjectedCount())
	}
	for _, other := range keys[1:] {
		if d.Ejected(other) {
			t.Fatalf("%s ejected", other)
		}
	}
}

func TestDefaultFiveErrors(t *testing.T) {
	d, _, keys := newDetector(t, Config{}, 2)
	fail(d, keys[0], 4)
	if d.Ejected(keys[0]) {
		t.Fatal("ejected after 4 errors")
	}
	fail(d, keys[0], 1)
	if !d.Ejected(keys[0]) {
		t.Fatal("not ejected after 5 errors")
	}
}

func TestEjectionsGrowAndCap(t *testing.T) {
	const ejectFor = 10 * time.Second
	d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 2, EjectFor: ejectFor, MaxEjectFor: 35 * time.Second}, 2)
	k := keys[0]
	var r recorder
	d.Attach(k, &r)
	// Each ejection starts the moment the previous one ends, so none is
	// forgiven: 1×, 2×, 3×, then the 35s cap.
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 35 * time.Second, 35 * time.Second} {
		fail(d, k, 2)
		if got := time.Duration(r.until.Load() - clock.Now().UnixNano()); got != want {
			t.Fatalf("ejection %d lasts %s, want %s", i+1, got, want)
		}
		clock.Advance(want - 1)
		if !d.Ejected(k) {
			t.Fatalf("ejection %d ended 1ns early", i+1)
		}
		clock.Advance(1)
		if d.Ejected(k) {
			t.Fatalf("ejection %d did not end on time", i+1)
		}
	}
}

func TestHealthyTimeShortensNextEjection(t *testing.T) {
	const ejectFor = 10 * time.Second
	d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 1, EjectFor: ejectFor}, 2)
	k := keys[0]
	var r recorder
	d.Attach(k, &r)
	duration := func() time.Duration { return time.Duration(r.until.Load() - clock.Now().UnixNano()) }

	for _, want := range []time.Duration{10, 20, 30} { // three in a row
		fail(d, k, 1)
		if got := duration(); got != want*time.Second {
			t.Fatalf("ejection lasts %s, want %ss", got, want)
		}
		clock.Advance(want * time.Second)
	}
	// 25s back in rotation forgives two steps: 3 - 2 + 1.
	clock.Advance(25 * time.Second)
	fail(d, k, 1)
	if got := duration(); got != 20*time.Second {
		t.Fatalf("after 25s healthy, ejection lasts %s, want 20s", got)
	}
	clock.Advance(20*time.Second + time.Hour)
	fail(d, k, 1)
	if got := duration(); got != 10*time.Second {
		t.Fatalf("after an hour healthy, ejection lasts %s, want 10s", got)
	}
}

func TestMaxEjectedPercent(t *testing.T) {
	tests := []struct {
		endpoints, percent, want int
	}{
		{4, 50, 2},
		{4, 0, 2}, // default 50
		{5, 50, 2},
		{3, 100, 2}, // one always stays
		{1, 100, 0},
		{2, 50, 1},
		{10, 10, 1},
		{10, 5, 0},
	}
	for _, tt := range tests {
		d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 1, MaxEjectedPercent: tt.percent}, tt.endpoints)
		for _, k := range keys {
			fail(d, k, 3)
		}
		if got := d.EjectedCount(); got != tt.want {
			t.Errorf("%d endpoints, %d%%: %d ejected, want %d", tt.endpoints, tt.percent, got, tt.want)
		}
		if tt.want == 0 {
			continue
		}
		// When the ejections end, the endpoints still failing take their
		// turn: their errors stayed counted.
		var first []string
		for _, k := range keys {
			if d.Ejected(k) {
				first = append(first, k)
			}
		}
		clock.Advance(30 * time.Second)
		for _, k := range keys {
			if !contains(first, k) {
				fail(d, k, 1)
			}
		}
		if got, want := d.EjectedCount(), min(tt.want, tt.endpoints-tt.want); got != want {
			t.Errorf("%d endpoints, %d%%: %d ejected in the second round, want %d", tt.endpoints, tt.percent, got, want)
		}
		for _, k := range first {
			if d.Ejected(k) {
				t.Errorf("%s ejected twice in a row while others were waiting", k)
			}
		}
	}
}

func contains(s []string, k string) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

func TestErrorsWhileEjectedDoNotExtend(t *testing.T) {
	d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 2, EjectFor: 10 * time.Second}, 3)
	k := keys[0]
	var r recorder
	d.Attach(k, &r)
	fail(d, k, 2)
	until := r.until.Load()
	clock.Advance(time.Second)
	fail(d, k, 6) // late results of requests sent before the ejection
	if r.until.Load() != until {
		t.Fatal("errors during an ejection extended it")
	}
	clock.Advance(9 * time.Second)
	if d.Ejected(k) {
		t.Fatal("still ejected")
	}
	fail(d, k, 1)
	if d.Ejected(k) {
		t.Fatal("errors during the ejection counted towards the next one")
	}
}

func TestSetEndpoints(t *testing.T) {
	d, _, keys := newDetector(t, Config{ConsecutiveErrors: 2}, 4)
	d.Observe("127.0.0.1:1", ServerError) // unknown: ignored
	d.Observe("127.0.0.1:1", ServerError)
	if d.Ejected("127.0.0.1:1") {
		t.Fatal("unknown key ejected")
	}
	fail(d, keys[0], 1)
	fail(d, keys[1], 2)
	d.SetEndpoints(keys[:2])
	// State survives for endpoints that stay.
	if !d.Ejected(keys[1]) {
		t.Fatal("ejection lost by SetEndpoints")
	}
	fail(d, keys[0], 1)
	if d.Ejected(keys[0]) {
		t.Fatal("ejected with the cap of 2 endpoints at 50% already reached")
	}
	// Forgotten endpoints ignore outcomes and come back fresh.
	d.SetEndpoints(keys[2:])
	fail(d, keys[0], 5)
	if d.Ejected(keys[0]) || d.Ejected(keys[1]) {
		t.Fatal("forgotten endpoint ejected")
	}
	d.SetEndpoints(keys)
	if d.Ejected(keys[1]) || d.EjectedCount() != 0 {
		t.Fatal("re-added endpoint kept its old ejection")
	}
}

func TestAttachMarksEndpoint(t *testing.T) {
	const ejectFor = 10 * time.Second
	d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 1, EjectFor: ejectFor}, 0)
	eps := make([]*resilience.Endpoint, 2)
	for i := range eps {
		keys = append(keys, "127.0.0.1:"+string(rune('1'+i))+"000")
		eps[i] = &resilience.Endpoint{Addr: keys[i]}
		d.Attach(keys[i], eps[i]) // Attach tracks the key
	}
	fail(d, keys[0], 1)
	now := clock.Now().UnixNano()
	until := now + int64(ejectFor)
	if eps[0].Available(now) || eps[0].Available(until-1) || !eps[0].Available(until) {
		t.Fatal("endpoint not out of picking for exactly ejectFor")
	}
	if !eps[1].Available(now) {
		t.Fatal("healthy endpoint out of picking")
	}
	// Attaching to an ejected key marks at once.
	var r recorder
	d.Attach(keys[0], &r)
	if r.until.Load() != until {
		t.Fatalf("late marker until = %d, want %d", r.until.Load(), until)
	}
}

func TestConcurrentUse(t *testing.T) {
	d, clock, keys := newDetector(t, Config{ConsecutiveErrors: 2, EjectFor: time.Millisecond, MaxEjectedPercent: 60}, 5)
	for _, k := range keys {
		d.Attach(k, &resilience.Endpoint{Addr: k})
	}
	limit := d.maxEjected(len(keys))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for i := range 3000 {
				k := keys[r.IntN(len(keys))]
				switch i % 5 {
				case 0, 1, 2:
					d.Observe(k, Outcome(r.IntN(4)))
				case 3:
					d.Ejected(k)
					if n := d.EjectedCount(); n > limit {
						t.Errorf("%d ejected, cap %d", n, limit)
						return
					}
				case 4:
					clock.Advance(50 * time.Microsecond)
					if i%500 == 4 {
						d.SetEndpoints(keys)
						d.Attach(k, &resilience.Endpoint{Addr: k})
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestNew(t *testing.T) {
	if _, err := New(Config{MaxEjectedPercent: 101}, nil); err == nil {
		t.Fatal("New accepted maxEjectedPercent 101")
	}
	d, err := New(Config{ConsecutiveErrors: 1}, nil) // wall clock
	if err != nil {
		t.Fatal(err)
	}
	d.SetEndpoints([]string{"127.0.0.1:1", "127.0.0.1:2"})
	d.Observe("127.0.0.1:1", ConnectFailure)
	if !d.Ejected("127.0.0.1:1") {
		t.Fatal("not ejected on the wall clock")
	}
	var fe *fielderr.Error
	if err := (Config{ConsecutiveErrors: -1}).Validate(); !errors.As(err, &fe) || fe.Key != "outlierDetection.consecutiveErrors" {
		t.Fatalf("Validate = %v", err)
	}
}
