package zoneaware_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/resilience"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// endpoints returns n distinct endpoints on loopback addresses.
func endpoints(n int) []*resilience.Endpoint {
	eps := make([]*resilience.Endpoint, n)
	for i := range eps {
		eps[i] = &resilience.Endpoint{
			Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i),
			Node: fmt.Sprintf("node-%d", i),
		}
	}
	return eps
}

// markDown takes e out of picking for longer than any test runs.
func markDown(e *resilience.Endpoint) { e.MarkDown(time.Now().Add(time.Hour)) }

// indexOf returns the position of e in eps, or -1.
func indexOf(eps []*resilience.Endpoint, e *resilience.Endpoint) int {
	for i, x := range eps {
		if x == e {
			return i
		}
	}
	return -1
}

// mustPick picks once and fails the test on error or on an endpoint that
// is not in eps.
func mustPick(t testing.TB, p resilience.Picker, eps []*resilience.Endpoint, info resilience.PickInfo) *resilience.Endpoint {
	t.Helper()
	e, err := p.Pick(info)
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	if indexOf(eps, e) < 0 {
		t.Fatalf("Pick returned %v, not in the set", e)
	}
	return e
}

// counts picks times and returns how often each endpoint of eps was chosen.
func counts(t testing.TB, p resilience.Picker, eps []*resilience.Endpoint, info resilience.PickInfo, picks int) []int {
	t.Helper()
	c := make([]int, len(eps))
	for range picks {
		c[indexOf(eps, mustPick(t, p, eps, info))]++
	}
	return c
}
