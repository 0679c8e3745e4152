package outlier

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newDetector returns a Detector with cfg on a fake clock tracking n
// endpoints, and their keys.
func newDetector(t testing.TB, cfg Config, n int) (*Detector, *fakeClock, []string) {
	t.Helper()
	clock := newFakeClock()
	d, err := New(cfg, clock.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("127.0.0.1:%d", 9001+i)
	}
	d.SetEndpoints(keys)
	return d, clock, keys
}

// fail observes n errors in a row for key.
func fail(d *Detector, key string, n int) {
	for range n {
		d.Observe(key, ServerError)
	}
}

// recorder is a Marker that remembers its latest ejection.
type recorder struct{ until atomic.Int64 }

func (r *recorder) Eject(until time.Time) { r.until.Store(until.UnixNano()) }
