package ringhash_test

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/ringhash"
)

// FuzzPick builds an endpoint set from data, one byte per endpoint (bit 0:
// marked down; bit 1: the request avoids it, first such endpoint only;
// bits 2-4: weight; bits 5-7: address), and looks up key. It checks that
// the pick is in the set, has the best rank the set offers, is the same on
// every lookup of the key and on a picker built over a copy of the set,
// and, for a usable owner, is exactly the endpoint owning the key on the
// ring built without health marks.
func FuzzPick(f *testing.F) {
	f.Add([]byte{0, 1 << 5, 2 << 5}, uint64(0), true)
	f.Add([]byte{1, 0, 2}, uint64(1)<<63, true)
	f.Add([]byte{3 | 3<<2, 1 << 5, 2 | 2<<5}, ^uint64(0), false)
	f.Add([]byte{}, uint64(7), true)
	f.Fuzz(func(t *testing.T, data []byte, key uint64, hasHash bool) {
		if len(data) > 32 {
			data = data[:32]
		}
		eps := make([]*resilience.Endpoint, len(data))
		clean := make([]*resilience.Endpoint, len(data))
		var info resilience.PickInfo
		info.Hash, info.HasHash = key, hasHash
		for i, b := range data {
			addr := "127.0.0.1:" + string(rune('0'+b>>5)) // duplicates allowed
			eps[i] = &resilience.Endpoint{Addr: addr, Weight: uint32(b >> 2 & 7)}
			clean[i] = &resilience.Endpoint{Addr: addr, Weight: eps[i].Weight}
			if b&1 != 0 {
				pickertest.MarkDown(eps[i])
			}
			if b&2 != 0 && info.Avoid == nil {
				info.Avoid = eps[i]
			}
		}
		p := ringhash.New().Build(eps)
		if pickertest.EmptySet(t, p, eps, info) {
			return
		}
		now := time.Now().UnixNano()
		rank := func(e *resilience.Endpoint) int { return pickertest.Rank(e, info, now) }
		best := 4
		for _, e := range eps {
			best = min(best, rank(e))
		}
		got := pickertest.MustPick(t, p, eps, info)
		if r := rank(got); r != best && len(eps) > 1 {
			t.Fatalf("picked an endpoint of rank %d, want %d", r, best)
		}
		if !hasHash {
			return
		}
		for range 3 {
			if again := pickertest.MustPick(t, p, eps, info); again != got {
				t.Fatalf("key %#x: picked %p, then %p", key, got, again)
			}
		}
		owner := pickertest.MustPick(t, ringhash.New().Build(clean), clean, resilience.PickInfo{Hash: key, HasHash: true})
		if rank(got) == 0 && rank(eps[pickertest.IndexOf(clean, owner)]) == 0 && got.Addr != owner.Addr {
			t.Fatalf("key %#x: picked %s, but its usable owner is %s", key, got.Addr, owner.Addr)
		}
	})
}
