package resilience_test

import (
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
)

func TestEndpointEject(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	now := base.UnixNano()
	var e resilience.Endpoint

	if e.Ejected(0) || e.Ejected(now) {
		t.Fatal("new endpoint ejected")
	}
	e.Eject(base.Add(10 * time.Second))
	e.Eject(base.Add(5 * time.Second)) // an earlier mark does not shorten it
	if !e.Ejected(0) || !e.Ejected(now) || e.Available(now) || e.Available(0) {
		t.Fatal("ejected endpoint available")
	}
	e.MarkUp() // a success does not end an ejection
	if e.Available(now + int64(10*time.Second) - 1) {
		t.Fatal("available 1ns before the ejection ends")
	}
	if !e.Available(now + int64(10*time.Second)) {
		t.Fatal("unavailable once the ejection ended")
	}
	// The expired mark is gone: Available(0) is true again.
	if e.Ejected(0) || !e.Available(0) {
		t.Fatal("expired ejection mark kept")
	}

	// Down and ejected together: available only when both ended.
	e.MarkDown(base.Add(3 * time.Second))
	e.Eject(base.Add(2 * time.Second))
	if e.Available(now + int64(2*time.Second)) {
		t.Fatal("available while down")
	}
	e.Eject(base.Add(4 * time.Second))
	if e.Available(now + int64(3*time.Second)) {
		t.Fatal("available while ejected")
	}
	if !e.Available(now + int64(4*time.Second)) {
		t.Fatal("unavailable after both marks ended")
	}
}

func TestEndpointEjectConcurrent(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var e resilience.Endpoint
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				e.Eject(base.Add(time.Duration(g*1000+i) * time.Millisecond))
				e.Available(base.UnixNano())
			}
		})
	}
	wg.Wait()
	last := base.Add(7999 * time.Millisecond).UnixNano()
	if !e.Ejected(last-1) || e.Ejected(last) {
		t.Fatal("the latest ejection mark did not win")
	}
}
