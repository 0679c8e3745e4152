package roundrobin_test

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

// FuzzPick builds an endpoint set from data, one byte per endpoint (bit 0:
// marked down; bit 1: the request avoids it, first such endpoint only;
// bit 2: the same *Endpoint as the previous position), and checks that
// every pick has the best rank the set offers and, for sets without
// repeats, that the best-ranked endpoints share the picks exactly evenly.
func FuzzPick(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 0, 2, 0})
	f.Add([]byte{1, 1, 1})
	f.Add([]byte{3, 1, 1})
	f.Add([]byte{0, 4, 4, 1, 2})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		eps := make([]*resilience.Endpoint, len(data))
		var info resilience.PickInfo
		repeats := false
		for i, b := range data {
			if b&4 != 0 && i > 0 {
				eps[i] = eps[i-1]
				repeats = true
				continue
			}
			eps[i] = &resilience.Endpoint{Addr: "127.0.0.1:1"}
			if b&1 != 0 {
				pickertest.MarkDown(eps[i])
			}
			if b&2 != 0 && info.Avoid == nil {
				info.Avoid = eps[i]
			}
		}

		p := roundrobin.New().Build(eps)
		if pickertest.EmptySet(t, p, eps, info) {
			return
		}

		now := time.Now().UnixNano()
		rank := func(e *resilience.Endpoint) int { return pickertest.Rank(e, info, now) }
		best, bestCount := 4, 0
		for _, e := range eps {
			switch r := rank(e); {
			case r < best:
				best, bestCount = r, 1
			case r == best:
				bestCount++
			}
		}

		const rounds = 3
		got := make(map[*resilience.Endpoint]int)
		for range rounds * bestCount {
			e := pickertest.MustPick(t, p, eps, info)
			if r := rank(e); r != best && len(eps) > 1 {
				t.Fatalf("picked an endpoint of rank %d, want %d", r, best)
			}
			got[e]++
		}
		if repeats || len(eps) == 1 {
			return
		}
		for _, e := range eps {
			if rank(e) == best && got[e] != rounds {
				t.Fatalf("a best-ranked endpoint was picked %d times in %d picks, want %d", got[e], rounds*bestCount, rounds)
			}
		}
	})
}
