package retry_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func ExampleRetryable() {
	cfg := retry.Config{Attempts: 3, On: []string{"connect-failure", "5xx"}}

	// Nothing reached the server: even a POST may be sent again.
	fmt.Println(retry.Retryable(cfg, "POST", nil, false, retry.Outcome{Failure: retry.ConnectFailure}))
	// The server answered 503: it may have charged the card.
	fmt.Println(retry.Retryable(cfg, "POST", nil, false, retry.Outcome{Status: 503}))
	// ...unless the request carries an idempotency key.
	hdr := http.Header{"Idempotency-Key": {"order-42"}}
	fmt.Println(retry.Retryable(cfg, "POST", hdr, false, retry.Outcome{Status: 503}))
	// A GET is retried on 5xx, which cfg lists.
	fmt.Println(retry.Retryable(cfg, "GET", nil, false, retry.Outcome{Status: 500}))
	// Output:
	// true
	// false
	// true
	// true
}

func ExampleBudget() {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	budget := retry.NewBudget(retry.BudgetConfig{Ratio: 0.1, MinPerSecond: 0.5, TTL: 10 * time.Second}, clock)

	// 100 requests earn 10 retries, plus a reserve of 0.5/s × 10 s = 5.
	for range 100 {
		budget.Deposit()
	}
	granted := 0
	for range 50 {
		if budget.TryWithdraw() {
			granted++
		}
	}
	fmt.Println("retries granted:", granted)

	// After TTL the deposits and withdrawals are gone; the reserve is back.
	now = now.Add(10 * time.Second)
	fmt.Println("available after TTL:", budget.Available())
	// Output:
	// retries granted: 15
	// available after TTL: 5
}

func ExampleBackoff_Pause() {
	b := retry.Backoff{Base: 25 * time.Millisecond, Max: 250 * time.Millisecond}
	now := time.Now()
	half := func() float64 { return 0.5 }

	for n := 1; n <= 5; n++ {
		d, _ := b.Pause(n, "", now, half)
		fmt.Printf("retry %d: wait %v\n", n, d)
	}
	// A server's Retry-After is honoured up to 4×Max...
	fmt.Println(b.Pause(1, "1", now, half))
	// ...and beyond that the call ends with the server's answer.
	fmt.Println(b.Pause(1, "30", now, half))
	// Output:
	// retry 1: wait 12.5ms
	// retry 2: wait 25ms
	// retry 3: wait 50ms
	// retry 4: wait 100ms
	// retry 5: wait 125ms
	// 1s true
	// 30s false
}

func ExampleEncodeTimeout() {
	h := http.Header{}
	h.Set(retry.TimeoutHeader, retry.EncodeTimeout(1234567*time.Microsecond))
	fmt.Println(h.Get(retry.TimeoutHeader))
	d, err := retry.ParseTimeout(h.Get(retry.TimeoutHeader))
	fmt.Println(d, err)
	// Output:
	// 1235
	// 1.235s <nil>
}
