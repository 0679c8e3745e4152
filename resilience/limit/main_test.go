package limit

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/internal/clocktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustNew builds a Limiter or fails the test.
func mustNew(t testing.TB, cfg Config, opts ...Option) *Limiter {
	t.Helper()
	l, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// admit calls Acquire n times for caller and returns how many were
// admitted; admitted tickets are finished at once.
func admit(l *Limiter, caller string, n int) int {
	ok := 0
	for range n {
		t, rej := l.Acquire(caller)
		if !rej.Rejected() {
			ok++
			t.Done(0, false)
		}
	}
	return ok
}
