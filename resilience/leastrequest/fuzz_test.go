package leastrequest_test

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

// FuzzPick builds an endpoint set from data, one byte per endpoint (bit 0:
// marked down; bit 1: the request avoids it, first such endpoint only;
// bit 2: the same *Endpoint as the previous position; bits 3-5: requests
// in flight; bits 6-7: weight), and checks that every pick has the best
// rank the set offers and, when no endpoint is usable, the least load among
// that rank.
func FuzzPick(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 0, 2, 0})
	f.Add([]byte{1 | 3<<3, 1, 1 | 1<<6})
	f.Add([]byte{3, 1, 1})
	f.Add([]byte{0, 4, 4, 1, 2})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		eps := make([]*resilience.Endpoint, len(data))
		var info resilience.PickInfo
		for i, b := range data {
			if b&4 != 0 && i > 0 {
				eps[i] = eps[i-1]
				continue
			}
			eps[i] = &resilience.Endpoint{Addr: "127.0.0.1:1", Weight: uint32(b >> 6)}
			if b&1 != 0 {
				pickertest.MarkDown(eps[i])
			}
			if b&2 != 0 && info.Avoid == nil {
				info.Avoid = eps[i]
			}
			pickertest.SetInFlight(t, eps[i], int(b>>3&7))
		}

		p := leastrequest.New().Build(eps)
		if pickertest.EmptySet(t, p, eps, info) {
			return
		}

		now := time.Now().UnixNano()
		rank := func(e *resilience.Endpoint) int { return pickertest.Rank(e, info, now) }
		// load compares as a fraction (in flight + 1) / weight; scaled by
		// the product of all possible weights (1, 2, 3) it is an integer.
		load := func(e *resilience.Endpoint) int64 {
			return (e.InFlight() + 1) * 6 / int64(max(e.Weight, 1))
		}
		best := 4
		var bestLoad int64
		for _, e := range eps {
			switch r := rank(e); {
			case r < best:
				best, bestLoad = r, load(e)
			case r == best:
				bestLoad = min(bestLoad, load(e))
			}
		}

		for range 8 {
			e := pickertest.MustPick(t, p, eps, info)
			if len(eps) == 1 {
				continue
			}
			if r := rank(e); r != best {
				t.Fatalf("picked an endpoint of rank %d, want %d", r, best)
			}
			if best > 0 && load(e) != bestLoad {
				t.Fatalf("no usable endpoint: picked load %d/6, want the least, %d/6", load(e), bestLoad)
			}
		}
	})
}
