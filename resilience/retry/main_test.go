package retry_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/internal/clocktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// constant returns a rnd function that always returns f.
func constant(f float64) func() float64 { return func() float64 { return f } }
