package leastrequest

import (
	"math/big"
	"testing"
)

func TestAtMost(t *testing.T) {
	const max64 = ^uint64(0)
	tests := []struct {
		la, wa, lb, wb uint64
		want           bool
	}{
		{1, 1, 1, 1, true},
		{1, 1, 2, 1, true},
		{2, 1, 1, 1, false},
		{6, 3, 3, 1, true},  // 5 in flight at weight 3 beats 2 at weight 1
		{3, 1, 6, 3, false}, // and the reverse loses
		{1, 2, 1, 1, true},  // idle: heavier weight is lighter load
		{1, 1, 1, 2, false},
		// Products that overflow 64 bits.
		{1 << 62, 1<<32 - 1, 1<<62 + 1, 1<<32 - 1, true},
		{1<<62 + 1, 1<<32 - 1, 1 << 62, 1<<32 - 1, false},
		{max64, 1<<32 - 1, max64 / 2, 1, true},
		{max64, 1, max64, 1<<32 - 1, false},
	}
	for _, tt := range tests {
		if got := atMost(tt.la, tt.wa, tt.lb, tt.wb); got != tt.want {
			t.Errorf("atMost(%d/%d <= %d/%d) = %v, want %v", tt.la, tt.wa, tt.lb, tt.wb, got, tt.want)
		}
	}
}

// FuzzAtMost checks the 128-bit cross-multiplication against exact
// rational arithmetic.
func FuzzAtMost(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint64(1), uint64(1))
	f.Add(uint64(6), uint64(3), uint64(3), uint64(1))
	f.Add(^uint64(0), uint64(1)<<32-1, ^uint64(0)/2, uint64(1))
	f.Fuzz(func(t *testing.T, la, wa, lb, wb uint64) {
		if wa == 0 || wb == 0 {
			return
		}
		want := new(big.Rat).SetFrac(new(big.Int).SetUint64(la), new(big.Int).SetUint64(wa)).Cmp(
			new(big.Rat).SetFrac(new(big.Int).SetUint64(lb), new(big.Int).SetUint64(wb))) <= 0
		if got := atMost(la, wa, lb, wb); got != want {
			t.Fatalf("atMost(%d/%d <= %d/%d) = %v, want %v", la, wa, lb, wb, got, want)
		}
	})
}
