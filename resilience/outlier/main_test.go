package outlier

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/internal/clocktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// newDetector returns a Detector with cfg on a fake clock tracking n
// endpoints, and their keys.
func newDetector(t testing.TB, cfg Config, n int) (*Detector, *clocktest.Clock, []string) {
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
