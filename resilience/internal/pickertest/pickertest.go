// Package pickertest holds what the tests of Weft's load balancers share:
// endpoint sets and pick counting.
package pickertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// Endpoints returns n distinct endpoints on loopback addresses.
func Endpoints(n int) []*resilience.Endpoint {
	eps := make([]*resilience.Endpoint, n)
	for i := range eps {
		eps[i] = &resilience.Endpoint{
			Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i),
			Node: fmt.Sprintf("node-%d", i),
		}
	}
	return eps
}

// MarkDown takes e out of picking for longer than any test runs.
func MarkDown(e *resilience.Endpoint) { e.MarkDown(time.Now().Add(time.Hour)) }

// IndexOf returns the position of e in eps, or -1.
func IndexOf(eps []*resilience.Endpoint, e *resilience.Endpoint) int {
	for i, x := range eps {
		if x == e {
			return i
		}
	}
	return -1
}

// MustPick picks once and fails the test on error or on an endpoint that
// is not in eps.
func MustPick(t testing.TB, p resilience.Picker, eps []*resilience.Endpoint, info resilience.PickInfo) *resilience.Endpoint {
	t.Helper()
	e, err := p.Pick(info)
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	if IndexOf(eps, e) < 0 {
		t.Fatalf("Pick returned %v, not in the set", e)
	}
	return e
}

// Counts picks the given number of times and returns how often each
// endpoint of eps was chosen.
func Counts(t testing.TB, p resilience.Picker, eps []*resilience.Endpoint, info resilience.PickInfo, picks int) []int {
	t.Helper()
	c := make([]int, len(eps))
	for range picks {
		c[IndexOf(eps, MustPick(t, p, eps, info))]++
	}
	return c
}

// SetInFlight starts n requests on e; the test ends them through cleanup.
func SetInFlight(t testing.TB, e *resilience.Endpoint, n int) {
	t.Helper()
	for range n {
		e.Begin()
	}
	t.Cleanup(func() {
		for range n {
			e.End()
		}
	})
}

// Share returns c[i] as a fraction of the sum of c.
func Share(c []int, i int) float64 {
	total := 0
	for _, x := range c {
		total += x
	}
	return float64(c[i]) / float64(total)
}

// Rank orders endpoints the way every picker prefers them for a request:
// 0 available and not avoided, 1 available but avoided, 2 down or ejected,
// 3 down and avoided. A pick must have the lowest rank the set offers.
func Rank(e *resilience.Endpoint, info resilience.PickInfo, now int64) int {
	r := 0
	if !e.Available(now) {
		r = 2
	}
	if e == info.Avoid {
		r++
	}
	return r
}

// EmptySet reports whether eps is empty, and if so checks that p answers
// with resilience.ErrNoEndpoint.
func EmptySet(t testing.TB, p resilience.Picker, eps []*resilience.Endpoint, info resilience.PickInfo) bool {
	t.Helper()
	if len(eps) > 0 {
		return false
	}
	if _, err := p.Pick(info); err != resilience.ErrNoEndpoint {
		t.Fatalf("empty set: err = %v, want ErrNoEndpoint", err)
	}
	return true
}
