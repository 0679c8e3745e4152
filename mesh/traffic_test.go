package mesh_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

const splitPolicy = `version: 1
mesh: {name: test}
services:
  echo:
    loadBalancer: round_robin
    subsets: {v1: {version: v1}, v2: {version: v2}, shadow: {version: shadow}}
    routes:
      - {name: canary, match: {headers: {x-canary: "1"}}, to: {v2: 100}}
      - {name: broken, match: {pathPrefix: /broken}, to: {v1: 1}, fault: {abort: {status: 503, percent: 100}}}
      - {name: mirrored, match: {pathPrefix: /mirrored}, to: {v1: 1}, mirror: {subset: shadow, percent: 100}}
      - {name: default, match: {pathPrefix: /}, to: {v1: 90, v2: 10}}
`

func TestTrafficSplitHeaderRouteFaultAndMirror(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, splitPolicy)
	var c counter
	m.Serve(mesh.Config{Service: "echo", Version: "v1"}, named(&c, "v1a"))
	m.Serve(mesh.Config{Service: "echo", Version: "v1"}, named(&c, "v1b"))
	m.Serve(mesh.Config{Service: "echo", Version: "v2"}, named(&c, "v2"))
	m.Serve(mesh.Config{Service: "echo", Version: "shadow"}, named(&c, "shadow"))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 4)
	hc := client.NewClient("echo")

	const n = 10000
	for range n {
		if _, err := get(hc, "http://echo/x"); err != nil {
			t.Fatal(err)
		}
	}
	v2 := float64(c.get("v2")) / n
	t.Logf("90/10 split over %d requests: v1 %d, v2 %d (%.2f%%)", n, c.get("v1a")+c.get("v1b"), c.get("v2"), 100*v2)
	if v2 < 0.07 || v2 > 0.13 {
		t.Errorf("v2 got %.2f%% of traffic, want 10%% ±3", 100*v2)
	}
	if c.get("shadow") != 0 {
		t.Errorf("the shadow subset got %d requests outside the mirrored route", c.get("shadow"))
	}

	before := c.snapshot()
	for range 200 {
		req, _ := http.NewRequest("GET", "http://echo/x", nil)
		req.Header.Set("X-Canary", "1")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := c.get("v2") - before["v2"]; got != 200 {
		t.Errorf("header route sent %d of 200 requests to v2", got)
	}

	resp, err := hc.Get("http://echo/broken")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Weft-Fault") != "abort" {
		t.Errorf("fault route answered %d %v, want an injected 503", resp.StatusCode, resp.Header)
	}

	for range 20 {
		if body, err := get(hc, "http://echo/mirrored"); err != nil || !strings.HasPrefix(body, "v1") {
			t.Fatalf("mirrored route answered %q, %v; want the v1 answer", body, err)
		}
	}
	meshtest.WaitFor(t, 5*time.Second, "mirrored copies", func() bool { return c.get("shadow") == 20 })
}

// flaky answers 503 to the given share of requests, deterministically by
// arrival order, and counts every request it sees.
type flaky struct {
	every    int // fail one request in every; 1 = all
	fails    int // of those, this many
	seen     atomic.Int64
	served   atomic.Int64
	failures atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.seen.Add(1)
	io.Copy(io.Discard, r.Body)
	if int(n%int64(f.every)) < f.fails {
		f.failures.Add(1)
		http.Error(w, "injected", http.StatusServiceUnavailable)
		return
	}
	f.served.Add(1)
	io.WriteString(w, "ok")
}

func TestRetriesStayWithinBudget(t *testing.T) {
	policy := `version: 1
mesh: {name: test}
services:
  echo:
    retries: {attempts: 3, on: [5xx], backoff: {base: 1ms, max: 2ms}, budget: {ratio: 0.2, minPerSecond: 10}}
`
	for _, tc := range []struct {
		name        string
		every, fail int
		minSuccess  float64
	}{
		{"10% failing", 10, 1, 0.999},
		{"50% failing", 2, 1, 0},
		{"100% failing", 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.New(t)
			m.PolicyFile = writePolicy(t, policy)
			f := &flaky{every: tc.every, fails: tc.fail}
			m.Serve(mesh.Config{Service: "echo"}, f)
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 1)
			hc := client.NewClient("echo")
			const requests = 2000
			start := time.Now()
			ok := 0
			for range requests {
				if _, err := get(hc, "http://echo/"); err == nil {
					ok++
				}
			}
			elapsed := time.Since(start).Seconds()
			attempts := f.seen.Load()
			ratio := float64(attempts) / requests
			// The budget allows 20% of requests, plus a reserve of
			// minPerSecond for each second of its 10 s window.
			limit := 1.2 + 10*max(elapsed, 10)/requests + 0.001
			t.Logf("%s: %d requests, %d attempts (%.3f per request, limit %.3f), success %.2f%% in %.1fs",
				tc.name, requests, attempts, ratio, limit, 100*float64(ok)/requests, elapsed)
			if ratio > limit {
				t.Errorf("attempts per request %.3f exceed the budget's %.3f", ratio, limit)
			}
			if got := float64(ok) / requests; got < tc.minSuccess {
				t.Errorf("success %.2f%%, want at least %.1f%%", 100*got, 100*tc.minSuccess)
			}
		})
	}
}

func TestPostIsNeverSentTwice(t *testing.T) {
	policy := `version: 1
mesh: {name: test}
services:
  pay:
    retries: {attempts: 5, on: [connect-failure, reset, 5xx], backoff: {base: 1ms, max: 2ms}}
`
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, policy)
	var seen sync.Map // body → count
	var resets atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, _ := seen.LoadOrStore(string(body), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if r.Method == http.MethodPost {
			// Read the request, then drop the connection without answering.
			resets.Add(1)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		http.Error(w, "try again", http.StatusServiceUnavailable)
	})
	m.Serve(mesh.Config{Service: "pay"}, handler)
	m.Serve(mesh.Config{Service: "pay"}, handler)
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "pay", 2)
	hc := client.NewClient("pay")

	for i := range 20 {
		_, err := hc.Post("http://pay/charge", "text/plain", strings.NewReader(fmt.Sprint("charge-", i)))
		if err == nil {
			t.Fatalf("POST %d succeeded against a server that resets", i)
		}
	}
	for i := range 20 {
		n, _ := seen.Load(fmt.Sprint("charge-", i))
		if got := n.(*atomic.Int64).Load(); got != 1 {
			t.Errorf("charge-%d reached the server %d times, want exactly once", i, got)
		}
	}
	// A PUT is idempotent: its 503 is retried.
	req, _ := http.NewRequest("PUT", "http://pay/balance", strings.NewReader("put-1"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	n, _ := seen.Load("put-1")
	if got := n.(*atomic.Int64).Load(); got != 5 {
		t.Errorf("PUT reached the server %d times, want 5 (every attempt)", got)
	}
}

func TestDeadlinePropagatesAndRetriesDoNotMultiply(t *testing.T) {
	policy := `version: 1
mesh: {name: test}
defaults: {timeout: 800ms, retries: {attempts: 3, on: [5xx], backoff: {base: 1ms, max: 2ms}}}
`
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, policy)
	var bottomCalls atomic.Int64
	deadlines := make(chan time.Duration, 100)
	m.Serve(mesh.Config{Service: "bottom"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bottomCalls.Add(1)
		if d, ok := r.Context().Deadline(); ok {
			deadlines <- time.Until(d)
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	middle := m.Start(mesh.Config{Service: "middle-client"})
	bottomClient := middle.NewClient("bottom")
	m.Serve(mesh.Config{Service: "middle"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://bottom/", nil)
		resp, err := bottomClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "middle", 1)
	meshtest.WaitEndpoints(t, middle, "bottom", 1)

	resp, err := client.NewClient("middle").Get("http://middle/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The top retries (3 attempts); the middle, seeing that, does not.
	if got := bottomCalls.Load(); got != 3 {
		t.Errorf("bottom was called %d times, want 3: retries multiplied across hops", got)
	}
	close(deadlines)
	for d := range deadlines {
		if d <= 0 || d > 800*time.Millisecond {
			t.Errorf("bottom's deadline was %v away, want within the top's 800ms budget", d)
		}
	}
}

func TestCanaryShiftByPolicyEdit(t *testing.T) {
	const policyFmt = `version: 1
mesh: {name: test}
services:
  echo:
    subsets: {v1: {version: v1}, v2: {version: v2}}
    routes: [{name: default, to: {v1: %d, v2: %d}}]
`
	path := writePolicy(t, fmt.Sprintf(policyFmt, 100, 0))
	m := meshtest.New(t)
	m.PolicyFile = path
	var c counter
	m.Serve(mesh.Config{Service: "echo", Version: "v1"}, named(&c, "v1"))
	m.Serve(mesh.Config{Service: "echo", Version: "v2"}, named(&c, "v2"))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 2)
	hc := client.NewClient("echo")
	for range 100 {
		if body, err := get(hc, "http://echo/"); err != nil || body != "v1" {
			t.Fatalf("before the shift: %q, %v", body, err)
		}
	}
	replacePolicy(t, path, fmt.Sprintf(policyFmt, 0, 100))
	start := time.Now()
	meshtest.WaitFor(t, time.Second, "traffic shifted to v2", func() bool {
		body, err := get(hc, "http://echo/")
		return err == nil && body == "v2"
	})
	t.Logf("canary shift applied after %v", time.Since(start).Round(time.Millisecond))
	for range 100 {
		if body, err := get(hc, "http://echo/"); err != nil || body != "v2" {
			t.Fatalf("after the shift: %q, %v", body, err)
		}
	}
}
