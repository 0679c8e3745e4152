package retry_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func TestBudgetReserve(t *testing.T) {
	clk := newClock()
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: 2, TTL: 5 * time.Second}, clk.Now)
	// With no traffic the reserve allows MinPerSecond × TTL = 10 retries.
	if got := b.Available(); got != 10 {
		t.Fatalf("Available() = %d, want 10", got)
	}
	for i := range 10 {
		if !b.TryWithdraw() {
			t.Fatalf("withdrawal %d refused, want the 10 of the reserve allowed", i+1)
		}
	}
	if b.TryWithdraw() {
		t.Fatal("11th withdrawal allowed, want the reserve exhausted")
	}
	// Withdrawals leave the window after TTL and the reserve is back.
	clk.Advance(5 * time.Second)
	if got := b.Available(); got != 10 {
		t.Fatalf("after TTL: Available() = %d, want 10", got)
	}
}

func TestBudgetDepositsExpire(t *testing.T) {
	clk := newClock()
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: 0.1, TTL: 10 * time.Second}, clk.Now)
	// Reserve: 0.1 × 10 s = 1 retry.
	for range 100 {
		b.Deposit()
	}
	if got := b.Available(); got != 51 {
		t.Fatalf("after 100 deposits: Available() = %d, want 50 + 1 reserve", got)
	}
	// Deposits stay for TTL, to within a tenth of it.
	clk.Advance(9*time.Second - time.Nanosecond)
	if got := b.Available(); got != 51 {
		t.Fatalf("before TTL: Available() = %d, want 51", got)
	}
	clk.Advance(time.Second + time.Nanosecond)
	if got := b.Available(); got != 1 {
		t.Fatalf("after TTL: Available() = %d, want only the reserve, 1", got)
	}
}

func TestBudgetClockStepsBack(t *testing.T) {
	clk := newClock()
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 1, MinPerSecond: 0.1, TTL: 10 * time.Second}, clk.Now)
	clk.Advance(30 * time.Second)
	b.Deposit()
	clk.Advance(-time.Hour)
	if got := b.Available(); got != 2 {
		t.Fatalf("after the clock stepped back: Available() = %d, want 2", got)
	}
}

func TestBudgetClampsBadConfig(t *testing.T) {
	clk := newClock()
	b := retry.NewBudget(retry.BudgetConfig{Ratio: -3, MinPerSecond: 1e12, TTL: -time.Second}, clk.Now)
	// Ratio clamps to 0, MinPerSecond to MaxMinPerSecond, TTL to MinTTL.
	if got, want := b.Available(), int(retry.MaxMinPerSecond); got != want {
		t.Fatalf("Available() = %d, want %d", got, want)
	}
}

func TestNilBudgetAllowsEverything(t *testing.T) {
	var b *retry.Budget
	b.Deposit()
	for range 1000 {
		if !b.TryWithdraw() {
			t.Fatal("nil Budget refused a withdrawal")
		}
	}
}

// TestBudgetUnderLoad sends a steady 100 requests per second for 60 s of
// simulated time, with 3 attempts per call and a failure probability per
// try, and checks that attempts per request stay within
// 1 + ratio + minPerSecond/rps.
func TestBudgetUnderLoad(t *testing.T) {
	const (
		rps      = 100
		duration = 60 * time.Second
		attempts = 3
	)
	cfg := retry.BudgetConfig{Ratio: 0.2, MinPerSecond: 10, TTL: 10 * time.Second}
	bound := 1 + cfg.Ratio + cfg.MinPerSecond/rps

	for _, tc := range []struct {
		failure float64
		min     float64 // attempts/requests expected at least
	}{
		{0.1, 1.10}, // every wanted retry fits in the budget
		{0.5, 1.29}, // budget-bound
		{1.0, 1.29}, // budget-bound
	} {
		clk := newClock()
		budget := retry.NewBudget(cfg, clk.Now)
		rng := rand.New(rand.NewPCG(3, uint64(tc.failure*100)))
		requests := rps * int(duration/time.Second)
		var tries, refused int
		// Per TTL window: retries and requests, to check the bound window by
		// window as well as overall.
		windows := int(duration / cfg.TTL)
		retriesIn := make([]int, windows)
		for i := range requests {
			budget.Deposit()
			w := i * windows / requests
			for try := 1; try <= attempts; try++ {
				tries++
				if rng.Float64() >= tc.failure {
					break // success
				}
				if try == attempts {
					break
				}
				if !budget.TryWithdraw() {
					refused++
					break
				}
				retriesIn[w]++
			}
			clk.Advance(time.Second / rps)
		}
		ratio := float64(tries) / float64(requests)
		t.Logf("failure %3.0f%%: %d requests, %d attempts, attempts/requests = %.3f (bound %.3f), %d retries refused",
			tc.failure*100, requests, tries, ratio, bound, refused)
		if ratio > bound {
			t.Errorf("failure %.0f%%: attempts/requests = %.4f, want ≤ %.4f", tc.failure*100, ratio, bound)
		}
		if ratio < tc.min {
			t.Errorf("failure %.0f%%: attempts/requests = %.4f, want ≥ %.2f: the budget refuses retries it has tokens for", tc.failure*100, ratio, tc.min)
		}
		perWindow := cfg.Ratio*float64(requests/windows) + cfg.MinPerSecond*cfg.TTL.Seconds()
		for w, r := range retriesIn {
			if float64(r) > perWindow {
				t.Errorf("failure %.0f%%: window %d had %d retries, want ≤ %.0f", tc.failure*100, w, r, perWindow)
			}
		}
	}
}

// TestBudgetConcurrent hammers one budget from many goroutines; under the
// race detector it checks the locking, and the totals check that no
// withdrawal is lost or invented.
func TestBudgetConcurrent(t *testing.T) {
	clk := newClock()
	b := retry.NewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: 1, TTL: 10 * time.Second}, clk.Now)
	const workers, perWorker = 8, 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range workers {
		wg.Go(func() {
			n := 0
			for range perWorker {
				b.Deposit()
				if b.TryWithdraw() {
					n++
				}
			}
			mu.Lock()
			granted += n
			mu.Unlock()
		})
	}
	wg.Wait()
	// 8000 deposits of 0.5 plus a reserve of 10 allow at most 4010.
	if granted > 4010 || granted < 4000 {
		t.Fatalf("granted %d withdrawals, want between 4000 and 4010", granted)
	}
	if got := b.Available(); got != 4010-granted {
		t.Fatalf("Available() = %d, want %d", got, 4010-granted)
	}
}
