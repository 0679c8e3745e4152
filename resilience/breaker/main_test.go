package breaker

import (
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

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// newSet returns a Set with cfg on a fake clock, failing the test on error.
func newSet(t testing.TB, cfg Config) (*Set, *clocktest.Clock) {
	t.Helper()
	clock := newFakeClock()
	s, err := New(cfg, clock.Now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, clock
}

// call sends one request through s to key with the given outcome and
// reports whether the breaker let it through.
func call(t testing.TB, s *Set, key string, success bool) bool {
	t.Helper()
	done, err := s.Allow(key)
	if err != nil {
		if err != ErrOpen {
			t.Fatalf("Allow: unexpected error %v", err)
		}
		return false
	}
	done(success)
	return true
}

// mustState fails the test unless key's breaker is in want.
func mustState(t testing.TB, s *Set, key string, want State) {
	t.Helper()
	if got := s.State(key); got != want {
		t.Fatalf("State(%q) = %v, want %v", key, got, want)
	}
	if got := s.Open(key); got != (want == Open) {
		t.Fatalf("Open(%q) = %v in state %v", key, got, want)
	}
}

// recorder is a Marker that remembers its ejections.
type recorder struct{ until atomic.Int64 }

func (r *recorder) Eject(until time.Time) { r.until.Store(until.UnixNano()) }
