package limit

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// serve runs h on a loopback server and returns a client for it; both are
// closed when the test ends.
func serve(t *testing.T, h http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return srv, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url, caller string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Caller", caller)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func callerHeader(r *http.Request) string { return r.Header.Get("X-Caller") }

func TestWrapMaxConcurrentOverLoopback(t *testing.T) {
	const n = 3
	l := mustNew(t, Config{MaxConcurrent: n})
	entered := make(chan struct{}, n+1)
	release := make(chan struct{})
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	}), callerHeader)
	srv, c := serve(t, h)

	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("held request: status %d", resp.StatusCode)
			}
		})
	}
	for range n {
		<-entered
	}

	resp, body := get(t, c, srv.URL, "x")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request %d: status %d, want 503", n+1, resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want \"1\"", got)
	}
	if body == "" {
		t.Error("503 without a body")
	}

	close(release)
	wg.Wait()
	waitFor(t, 5*time.Second, "in-flight count back to 0", func() bool { return l.Stats().InFlight == 0 })
	if resp, _ := get(t, c, srv.URL, "x"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after release: status %d", resp.StatusCode)
	}
}

func TestWrapRateLimitOverLoopback(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 0.2, Burst: 2}}}, WithClock(clk.Now))
	srv, c := serve(t, l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), callerHeader))

	for range 2 {
		if resp, _ := get(t, c, srv.URL, "a"); resp.StatusCode != http.StatusOK {
			t.Fatalf("within burst: status %d", resp.StatusCode)
		}
	}
	resp, body := get(t, c, srv.URL, "a")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the rate: status %d, want 429", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want \"5\" at 0.2 rps", got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != textPlain || body != string(rateBody) {
		t.Errorf("Content-Type %q body %q", ct, body)
	}
	if resp, _ := get(t, c, srv.URL, "b"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another caller: status %d", resp.StatusCode)
	}
}

func TestWriteRejectionRoundsRetryAfterUp(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {150 * time.Second, "150"}} {
		w := httptest.NewRecorder()
		WriteRejection(w, Rejection{Reason: TotalRate, RetryAfter: tc.d})
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("RetryAfter %v: header %q, want %q", tc.d, got, tc.want)
		}
	}
	w := httptest.NewRecorder()
	WriteRejection(w, Rejection{})
	if w.Code != http.StatusOK || w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("zero Rejection wrote a response: %d %q", w.Code, w.Body)
	}
}

func TestWrapKeepsFlusherAndHijacker(t *testing.T) {
	l := mustNew(t, Config{MaxConcurrent: 10})
	srv, c := serve(t, l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			t.Error("ResponseWriter lost http.Hijacker")
		}
		_, _ = io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
	}), nil))
	if resp, body := get(t, c, srv.URL, ""); resp.StatusCode != http.StatusOK || body != "a" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestWrapReportsPanicsAsDropped(t *testing.T) {
	clk := newFakeClock()
	l := mustNew(t, Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, Window: time.Hour}}, WithClock(clk.Now))
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(7 * time.Millisecond)
		panic(http.ErrAbortHandler)
	}), nil)
	func() {
		defer func() {
			if p := recover(); !errors.Is(p.(error), http.ErrAbortHandler) {
				t.Errorf("panic value changed to %v", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	a := l.snap.Load().adaptive
	a.mu.Lock()
	drops, sum := a.drops, a.sum
	a.mu.Unlock()
	if drops != 1 || sum != 7*time.Millisecond || l.Stats().InFlight != 0 {
		t.Fatalf("drops=%d latency=%v inFlight=%d, want 1, 7ms, 0", drops, sum, l.Stats().InFlight)
	}
}
