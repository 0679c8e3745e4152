package observe_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/weftmesh/weft/transport/observe"
)

// A call keeps the records of its first attempts within itself and of
// later ones beside it, up to ten, whether they end one by one or at once.
func TestRecordAttempt(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 10, 12} {
		var c observe.CallInfo
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { c.RecordAttempt(&observe.AttemptInfo{Endpoint: fmt.Sprint(i), Outcome: "ok"}) })
		}
		wg.Wait()
		tries := c.Tries()
		if want := min(n, 10); len(tries) != want {
			t.Fatalf("%d attempts: %d records, want %d", n, len(tries), want)
		}
		seen := map[string]bool{}
		for _, r := range tries {
			if r.Outcome != "ok" || seen[r.Endpoint] {
				t.Fatalf("%d attempts: records %+v", n, tries)
			}
			seen[r.Endpoint] = true
		}
	}
}

func TestRecordAttemptAllocations(t *testing.T) {
	a := &observe.AttemptInfo{Endpoint: "10.0.0.1:80", Outcome: "ok"}
	c := new(observe.CallInfo)
	allocs := testing.AllocsPerRun(100, func() {
		*c = observe.CallInfo{}
		c.RecordAttempt(a)
		if len(c.Tries()) != 1 {
			t.Fatal("record lost")
		}
	})
	if allocs != 0 {
		t.Errorf("recording one attempt allocates %v times, want 0", allocs)
	}
}

func TestTraceIDString(t *testing.T) {
	if s := (observe.TraceID{}).String(); s != "" {
		t.Errorf("zero ID = %q, want \"\"", s)
	}
	id := observe.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	if s := id.String(); s != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("ID = %q", s)
	}
}
