package limit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestBucketBurstThenRate(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 10, Burst: 5}}}, WithClock(clk.Now))

	if got := admit(l, "a", 5); got != 5 {
		t.Fatalf("burst: admitted %d of 5", got)
	}
	_, rej := l.Acquire("a")
	if rej.Reason != CallerRate || rej.StatusCode() != 429 {
		t.Fatalf("6th request: got %+v, want CallerRate 429", rej)
	}
	if rej.RetryAfter != 100*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 100ms (one token at 10 rps)", rej.RetryAfter)
	}

	clk.Advance(100 * time.Millisecond)
	if got := admit(l, "a", 2); got != 1 {
		t.Fatalf("after 100ms: admitted %d, want 1", got)
	}
	clk.Advance(time.Hour)
	if got := admit(l, "a", 20); got != 5 {
		t.Fatalf("after a long pause: admitted %d, want the burst of 5", got)
	}
}

func TestBurstDefaultsToRPSRoundedUp(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{Total: &Bucket{RPS: 2.5}}}, WithClock(clk.Now))
	if got := admit(l, "", 10); got != 3 {
		t.Fatalf("admitted %d, want 3 (burst = ceil(2.5))", got)
	}
	l = mustNew(t, Config{RateLimit: &RateLimit{Total: &Bucket{RPS: 0.1}}}, WithClock(clk.Now))
	if got := admit(l, "", 10); got != 1 {
		t.Fatalf("admitted %d, want 1 (burst at least 1)", got)
	}
	_, rej := l.Acquire("")
	if rej.RetryAfter != 10*time.Second {
		t.Errorf("RetryAfter = %v, want 10s at 0.1 rps", rej.RetryAfter)
	}
}

func TestPerCallerIsolation(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1, Burst: 3}}}, WithClock(clk.Now))
	if got := admit(l, "noisy", 100); got != 3 {
		t.Fatalf("noisy: admitted %d, want 3", got)
	}
	for _, c := range []string{"quiet", "other", ""} {
		if got := admit(l, c, 3); got != 3 {
			t.Errorf("%q: admitted %d of 3 after another caller was limited", c, got)
		}
	}
	st := l.Stats()
	if st.Rejected[CallerRate] != 97 || st.Accepted != 12 {
		t.Errorf("stats = %+v, want 97 caller-rate rejections and 12 accepted", st)
	}
}

func TestTotalLimit(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{
		PerCaller: &Bucket{RPS: 100, Burst: 100},
		Total:     &Bucket{RPS: 1, Burst: 4},
	}}, WithClock(clk.Now))
	admitted := 0
	for i := range 10 {
		admitted += admit(l, fmt.Sprint("caller-", i), 1)
	}
	if admitted != 4 {
		t.Fatalf("admitted %d across callers, want the total burst of 4", admitted)
	}
	_, rej := l.Acquire("another")
	if rej.Reason != TotalRate || rej.StatusCode() != 429 || rej.RetryAfter != time.Second {
		t.Fatalf("got %+v, want TotalRate, 429, 1s", rej)
	}
	if got := l.Stats().Rejected[TotalRate]; got != 7 {
		t.Errorf("Rejected[TotalRate] = %d, want 7", got)
	}
}

func TestMaxConcurrent(t *testing.T) {
	const n = 4
	l := mustNew(t, Config{MaxConcurrent: n})
	var held []Ticket
	for i := range n {
		tk, rej := l.Acquire("")
		if rej.Rejected() {
			t.Fatalf("request %d of %d rejected: %+v", i+1, n, rej)
		}
		held = append(held, tk)
	}
	tk, rej := l.Acquire("")
	if rej.Reason != Concurrency || rej.StatusCode() != 503 || rej.RetryAfter != time.Second {
		t.Fatalf("request %d: got %+v, want Concurrency, 503, 1s", n+1, rej)
	}
	tk.Done(0, false) // the zero Ticket's Done does nothing
	if got := l.Stats().InFlight; got != n {
		t.Fatalf("InFlight = %d, want %d", got, n)
	}
	held[0].Done(time.Millisecond, false)
	if _, rej := l.Acquire(""); rej.Rejected() {
		t.Fatalf("after one Done: rejected %+v", rej)
	}
}

func TestConcurrencyRejectionSpendsNoToken(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{MaxConcurrent: 1, RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1, Burst: 2}}}, WithClock(clk.Now))
	tk, _ := l.Acquire("a")
	for range 10 {
		if _, rej := l.Acquire("a"); rej.Reason != Concurrency {
			t.Fatalf("got %v, want Concurrency", rej.Reason)
		}
	}
	tk.Done(0, false)
	if _, rej := l.Acquire("a"); rej.Rejected() {
		t.Fatalf("second token was spent by concurrency rejections: %+v", rej)
	}
}

func TestCallerTableIsBounded(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1, Burst: 1}}},
		WithClock(clk.Now), WithMaxCallers(160))
	admit(l, "victim", 1)
	if _, rej := l.Acquire("victim"); rej.Reason != CallerRate {
		t.Fatalf("victim not limited: %+v", rej)
	}
	for i := range 100_000 {
		admit(l, fmt.Sprint("rotating-", i), 1)
	}
	if got := l.Stats().Callers; got > 160 {
		t.Fatalf("remembers %d callers, bound is 160", got)
	}
	// The victim was forgotten, so it starts again with a full bucket.
	if got := admit(l, "victim", 1); got != 1 {
		t.Fatalf("forgotten caller still limited")
	}
}

func TestRecentCallerIsKept(t *testing.T) {
	c := newCallers(3 * callerShards)
	b := &Bucket{RPS: 1, Burst: 1}
	now := time.Now()
	first := c.bucket("keep", b, 1, now)
	for i := range 1000 {
		c.bucket(fmt.Sprint("x", i), b, 1, now)
		if c.bucket("keep", b, 1, now) != first {
			t.Fatalf("recently seen caller evicted after %d others", i+1)
		}
	}
}

func TestUpdateKeepsTokens(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{
		PerCaller: &Bucket{RPS: 1, Burst: 5},
		Total:     &Bucket{RPS: 1, Burst: 8},
	}}, WithClock(clk.Now))
	admit(l, "a", 5)
	admit(l, "b", 2)
	if err := l.Update(Config{RateLimit: &RateLimit{
		PerCaller: &Bucket{RPS: 2, Burst: 10},
		Total:     &Bucket{RPS: 2, Burst: 20},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, rej := l.Acquire("a"); rej.Reason != CallerRate {
		t.Fatalf("a's empty bucket was refilled by Update: %+v", rej)
	}
	if got := admit(l, "c", 10); got != 1 {
		t.Fatalf("total bucket: admitted %d, want the 1 token left", got)
	}
	clk.Advance(500 * time.Millisecond) // one token at the new 2 rps
	if _, rej := l.Acquire("a"); rej.Rejected() {
		t.Fatalf("new rate not applied to a: %+v", rej)
	}
}

func TestUpdateRejectsInvalidConfig(t *testing.T) {
	l := mustNew(t, Config{MaxConcurrent: 1})
	err := l.Update(Config{MaxConcurrent: -1})
	if err == nil {
		t.Fatal("Update accepted maxConcurrent -1")
	}
	if l.Config().MaxConcurrent != 1 {
		t.Fatalf("invalid Update changed the config to %+v", l.Config())
	}
	if err := l.Update(Config{}); err != nil {
		t.Fatal(err)
	}
	if got := admit(l, "", 100); got != 100 {
		t.Fatalf("zero config admitted %d of 100", got)
	}
}

func TestUpdateDroppingPerCallerForgetsCallers(t *testing.T) {
	l := mustNew(t, Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1}}})
	admit(l, "a", 1)
	admit(l, "b", 1)
	if got := l.Stats().Callers; got != 2 {
		t.Fatalf("Callers = %d, want 2", got)
	}
	if err := l.Update(Config{MaxConcurrent: 10}); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().Callers; got != 0 {
		t.Fatalf("Callers = %d after removing perCaller, want 0", got)
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{Accepted: "accepted", CallerRate: "caller_rate", TotalRate: "total_rate",
		Concurrency: "concurrency", Adaptive: "adaptive", 9: "Reason(9)"} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", r, got, want)
		}
	}
}

// TestConcurrentUse runs Acquire, Done, Update and Stats from many
// goroutines at once for the race detector, and checks the books balance.
func TestConcurrentUse(t *testing.T) {
	l := mustNew(t, Config{
		MaxConcurrent:       8,
		RateLimit:           &RateLimit{PerCaller: &Bucket{RPS: 1e6}, Total: &Bucket{RPS: 1e6}},
		AdaptiveConcurrency: &AdaptiveConfig{Window: time.Millisecond},
	}, WithMaxCallers(32))
	const workers, per = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				tk, rej := l.Acquire(fmt.Sprint("c", (w*per+i)%100))
				if !rej.Rejected() {
					tk.Done(time.Duration(i%7)*time.Millisecond, i%50 == 0)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			cfg := l.Config()
			cfg.MaxConcurrent = 4 + i%8
			if err := l.Update(cfg); err != nil {
				t.Error(err)
			}
			_ = l.Stats()
		}
	})
	wg.Wait()
	st := l.Stats()
	var rejected uint64
	for _, n := range st.Rejected {
		rejected += n
	}
	if st.Accepted+rejected != workers*per || st.InFlight != 0 {
		t.Fatalf("stats %+v do not add up to %d requests with none in flight", st, workers*per)
	}
}
