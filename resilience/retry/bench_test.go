package retry_test

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func BenchmarkBudget(b *testing.B) {
	cfg := retry.BudgetConfig{Ratio: 0.2, MinPerSecond: 10}
	b.Run("serial", func(b *testing.B) {
		budget := retry.NewBudget(cfg, nil)
		b.ReportAllocs()
		for b.Loop() {
			budget.Deposit()
			budget.TryWithdraw()
		}
	})
	// With a fixed clock, the cost of the budget itself, without reading
	// the system clock.
	b.Run("serial/fixed-clock", func(b *testing.B) {
		now := time.Now()
		budget := retry.NewBudget(cfg, func() time.Time { return now })
		b.ReportAllocs()
		for b.Loop() {
			budget.Deposit()
			budget.TryWithdraw()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		budget := retry.NewBudget(cfg, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				budget.Deposit()
				budget.TryWithdraw()
			}
		})
	})
}

func BenchmarkRetryable(b *testing.B) {
	cfg := retry.Config{On: []string{"connect-failure", "reset", "5xx"}}
	hdr := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k"}}
	b.ReportAllocs()
	for b.Loop() {
		if !retry.Retryable(cfg, "POST", hdr, false, retry.Outcome{Status: 503}) {
			b.Fatal("want retryable")
		}
	}
}

func BenchmarkDelay(b *testing.B) {
	bo := retry.Backoff{Base: 25 * time.Millisecond, Max: 250 * time.Millisecond}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if bo.Delay(n%8+1, rng.Float64) < 0 {
			b.Fatal("negative delay")
		}
	}
}

func BenchmarkParseTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := retry.ParseTimeout("1500"); err != nil {
			b.Fatal(err)
		}
	}
}
