package limit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/weftmesh/weft/resilience/limit"
)

// A per-caller rate limit in front of a handler: the third request of a
// caller within the burst is refused with 429 and a Retry-After.
func ExampleLimiter_Wrap() {
	l, err := limit.New(limit.Config{
		RateLimit: &limit.RateLimit{PerCaller: &limit.Bucket{RPS: 0.5, Burst: 2}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}), func(r *http.Request) string { return r.Header.Get("X-Caller") })

	for range 3 {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Caller", "checkout")
		h.ServeHTTP(w, r)
		fmt.Printf("%d Retry-After=%q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 200 Retry-After=""
	// 429 Retry-After="2"
}

// Acquire and Done used directly, as a transport does when it knows more
// about a request's outcome than an http.Handler sees.
func ExampleLimiter_Acquire() {
	l, err := limit.New(limit.Config{MaxConcurrent: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	first, _ := l.Acquire("checkout")
	_, rej := l.Acquire("checkout")
	fmt.Println(rej.Reason, rej.StatusCode(), rej.RetryAfter)
	first.Done(20*time.Millisecond, false)
	_, rej = l.Acquire("checkout")
	fmt.Println(rej.Rejected())
	// Output:
	// concurrency 503 1s
	// false
}

func ExampleConfig_Validate() {
	err := limit.Config{
		MaxConcurrent:       -1,
		AdaptiveConcurrency: &limit.AdaptiveConfig{Algorithm: "vegas"},
	}.Validate()
	if list, ok := err.(interface{ Unwrap() []error }); ok {
		for _, problem := range list.Unwrap() {
			fmt.Println(problem)
		}
	}
	// Output:
	// maxConcurrent: must be between 0 (unlimited) and 16777216, got -1
	// adaptiveConcurrency.algorithm: must be "gradient" or "aimd", got "vegas"
}
