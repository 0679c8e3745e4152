package retry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", " 3\t", "-1", "1.5", "99999999999999999999",
		"Sat, 01 Mar 2025 12:00:30 GMT", "Saturday, 01-Mar-25 12:01:00 GMT", "Sat Mar  1 12:00:05 2025", ""} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retry.ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: want 0 when not ok", s, d)
		}
		if ok {
			// Pause honours exactly what was parsed.
			got, _ := retry.Backoff{}.Pause(1, s, now, constant(0.5))
			if got != d {
				t.Fatalf("Pause with Retry-After %q = %v, want %v", s, got, d)
			}
		}
	})
}

func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"0", "1", "1500", "99999999", "123456789", "-1", "1m", "", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := retry.ParseTimeout(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseTimeout(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 || d > retry.MaxTimeout || d%time.Millisecond != 0 {
			t.Fatalf("ParseTimeout(%q) = %v, out of range", s, d)
		}
		again, err := retry.ParseTimeout(retry.EncodeTimeout(d))
		if err != nil || again != d {
			t.Fatalf("round trip of %q: %v, %v; want %v", s, again, err, d)
		}
	})
}

func FuzzEncodeTimeout(f *testing.F) {
	for _, d := range []int64{-1, 0, 1, 999_999, 1_000_000, 1<<63 - 1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		d := time.Duration(n)
		got, err := retry.ParseTimeout(retry.EncodeTimeout(d))
		if err != nil {
			t.Fatalf("EncodeTimeout(%v) does not parse: %v", d, err)
		}
		switch {
		case d <= 0 && got != 0:
			t.Fatalf("EncodeTimeout(%v) reads back as %v, want 0", d, got)
		case d > 0 && d <= retry.MaxTimeout && (got < d || got-d >= time.Millisecond):
			t.Fatalf("EncodeTimeout(%v) reads back as %v, want d rounded up to a millisecond", d, got)
		case d > retry.MaxTimeout && got != retry.MaxTimeout:
			t.Fatalf("EncodeTimeout(%v) reads back as %v, want MaxTimeout", d, got)
		}
	})
}

// FuzzRetryable checks the safety rule whatever the condition list,
// method and status: a request that may have been processed is retried
// only when it is idempotent, and nothing is retried unless listed.
func FuzzRetryable(f *testing.F) {
	f.Add("5xx", "POST", "", false, uint8(0), 500)
	f.Add("connect-failure", "POST", "", false, uint8(1), 0)
	f.Add("reset", "PATCH", "key", false, uint8(3), 0)
	f.Add("429", "GET", "", true, uint8(0), 429)
	f.Fuzz(func(t *testing.T, cond, method, key string, routeIdempotent bool, failure uint8, status int) {
		o := retry.Outcome{Failure: retry.Failure(failure % 5), Status: status}
		var hdr http.Header
		if key != "" {
			hdr = http.Header{retry.IdempotencyKeyHeader: {key}}
		}
		cfg := retry.Config{On: []string{cond}}
		got := retry.Retryable(cfg, method, hdr, routeIdempotent, o)
		if got && !o.Unprocessed() && !retry.Idempotent(method, hdr, routeIdempotent) {
			t.Fatalf("Retryable retries a possibly processed non-idempotent %q after %+v", method, o)
		}
		if got && cfg.Validate() != nil {
			t.Fatalf("Retryable retried on unknown condition %q", cond)
		}
		if got && o.Failure == retry.NoFailure && status < 429 {
			t.Fatalf("Retryable retried status %d", status)
		}
	})
}

func FuzzConfigValidate(f *testing.F) {
	f.Add(2, int64(0), "5xx", int64(0), int64(0), 0.2, 10.0, int64(0))
	f.Add(-1, int64(-1), "x", int64(-1), int64(1<<62), -1.0, 1e300, int64(-5))
	f.Fuzz(func(t *testing.T, attempts int, perTry int64, cond string, base, max int64, ratio, perSecond float64, ttl int64) {
		cfg := retry.Config{
			Attempts: attempts, PerTryTimeout: time.Duration(perTry), On: []string{cond},
			Backoff: retry.Backoff{Base: time.Duration(base), Max: time.Duration(max)},
			Budget:  retry.BudgetConfig{Ratio: ratio, MinPerSecond: perSecond, TTL: time.Duration(ttl)},
		}
		err := cfg.Validate()
		// Whatever the config, the mechanisms stay within their bounds.
		b := cfg.Backoff
		limit := b.Max
		if limit == 0 {
			limit = retry.DefaultBackoffMax
		}
		for _, n := range []int{1, 2, 64} {
			d := b.Delay(n, constant(0.999))
			if d < 0 || (err == nil && d >= limit) {
				t.Fatalf("%+v.Delay(%d) = %v", b, n, d)
			}
		}
		budget := retry.NewBudget(cfg.Budget, newClock().Now)
		budget.Deposit()
		if budget.Available() < 0 {
			t.Fatal("negative Available")
		}
	})
}
