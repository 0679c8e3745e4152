package random_test

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/random"
)

// FuzzPick builds an endpoint set from data, one byte per endpoint (bit 0:
// marked down; bit 1: the request avoids it, first such endpoint only;
// bits 2-7: weight), and checks that every pick is in the set and has the
// best rank the set offers.
func FuzzPick(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 0, 2, 0})
	f.Add([]byte{3, 1, 1 | 9<<2})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		eps := make([]*resilience.Endpoint, len(data))
		var info resilience.PickInfo
		for i, b := range data {
			eps[i] = &resilience.Endpoint{Addr: "127.0.0.1:1", Weight: uint32(b >> 2)}
			if b&1 != 0 {
				pickertest.MarkDown(eps[i])
			}
			if b&2 != 0 && info.Avoid == nil {
				info.Avoid = eps[i]
			}
		}
		p := random.New().Build(eps)
		if pickertest.EmptySet(t, p, eps, info) {
			return
		}
		now := time.Now().UnixNano()
		rank := func(e *resilience.Endpoint) int { return pickertest.Rank(e, info, now) }
		best := 4
		for _, e := range eps {
			best = min(best, rank(e))
		}
		for range 16 {
			e := pickertest.MustPick(t, p, eps, info)
			if r := rank(e); r != best && len(eps) > 1 {
				t.Fatalf("picked an endpoint of rank %d, want %d", r, best)
			}
		}
	})
}
