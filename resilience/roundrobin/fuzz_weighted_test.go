package roundrobin_test

import (
	"testing"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

// FuzzWeightedRotation builds endpoints with the weights in data (0 meaning
// 1) and checks that over any whole cycle, each endpoint receives exactly
// its weight's share of the picks, reduced by the weights' common divisor,
// and that no endpoint of weight w waits much more than cycle/w turns.
func FuzzWeightedRotation(f *testing.F) {
	f.Add([]byte{3, 1})
	f.Add([]byte{1, 1, 1})
	f.Add([]byte{0, 2, 4})
	f.Add([]byte{255, 1, 17, 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 16 {
			return
		}
		eps := pickertest.Endpoints(len(data))
		var g, sum int
		gcd := func(a, b int) int {
			for b != 0 {
				a, b = b, a%b
			}
			return a
		}
		for i, w := range data {
			eps[i].Weight = uint32(w)
			g = gcd(g, max(int(w), 1))
		}
		for _, w := range data {
			sum += max(int(w), 1) / g
		}
		p := roundrobin.New().Build(eps)
		const cycles = 2
		seq := make([]int, sum*cycles)
		for i := range seq {
			seq[i] = pickertest.IndexOf(eps, pickertest.MustPick(t, p, eps, resilience.PickInfo{}))
		}
		c := make([]int, len(eps))
		last := make([]int, len(eps))
		for i := range last {
			last[i] = -1
		}
		for k, i := range seq {
			c[i]++
			w := max(int(data[i]), 1) / g
			// Turns of an endpoint are spaced by sum/w, give or take
			// one turn of each other endpoint.
			if limit := sum/w + len(data) + 1; last[i] >= 0 && k-last[i] > limit {
				t.Fatalf("weights %v: endpoint %d waited %d turns, want at most %d", data, i, k-last[i], limit)
			}
			last[i] = k
		}
		for i, w := range data {
			if want := max(int(w), 1) / g * cycles; c[i] != want {
				t.Fatalf("weights %v: endpoint %d picked %d times in %d cycles, want %d", data, i, c[i], cycles, want)
			}
		}
	})
}
