package mesh_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestOutlierEjectedAndBreakerOpens(t *testing.T) {
	for _, tc := range []struct{ name, section string }{
		{"outlier detection", "outlierDetection: {consecutiveErrors: 3, ejectFor: 30s}"},
		{"circuit breaker", "circuitBreaker: {consecutiveFailures: 3, openFor: 30s}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.New(t)
			m.PolicyFile = writePolicy(t, fmt.Sprintf(`version: 1
mesh: {name: test}
services:
  echo:
    loadBalancer: round_robin
    retries: {attempts: 2, on: [5xx], backoff: {base: 1ms, max: 2ms}}
    %s
`, tc.section))
			var c counter
			var broken atomic.Int64
			m.Serve(mesh.Config{Service: "echo"}, named(&c, "good0"))
			m.Serve(mesh.Config{Service: "echo"}, named(&c, "good1"))
			m.Serve(mesh.Config{Service: "echo"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				broken.Add(1)
				http.Error(w, "broken", http.StatusInternalServerError)
			}))
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(t, client, "echo", 3)
			hc := client.NewClient("echo")
			failed := 0
			for range 300 {
				if _, err := get(hc, "http://echo/"); err != nil {
					failed++
				}
			}
			t.Logf("broken endpoint saw %d of 300 requests; %d failed", broken.Load(), failed)
			if broken.Load() > 6 {
				t.Errorf("broken endpoint saw %d requests, want it out of picking after 3 failures", broken.Load())
			}
			if failed != 0 {
				t.Errorf("%d requests failed while healthy endpoints remained", failed)
			}
		})
	}
}

func TestAllBreakersOpenFailsFast(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  echo: {retries: {attempts: 1}, circuitBreaker: {consecutiveFailures: 2, openFor: 30s}}
`)
	var calls atomic.Int64
	m.Serve(mesh.Config{Service: "echo"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 1)
	hc := client.NewClient("echo")
	for range 2 {
		resp, err := hc.Get("http://echo/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, err := hc.Get("http://echo/")
	if err == nil || calls.Load() != 2 {
		t.Fatalf("third call: err %v after %d server calls; want a fast failure with the breaker open", err, calls.Load())
	}
	t.Logf("fail-fast error: %v", err)
}

func TestHedgingCutsTheTail(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  echo:
    loadBalancer: round_robin
    routes:
      - {name: hedged, match: {pathPrefix: /hedged}, hedge: {delay: 20ms, maxExtra: 2}}
      - {name: plain, match: {pathPrefix: /}}
`)
	// One request in 20, at random, stalls for 200ms, as a GC pause or a
	// slow disk would. (Stalls at fixed counts would line up across
	// round-robin backends and stall a hedge's every try.)
	stall := func() http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rand.IntN(20) == 0 {
				select {
				case <-time.After(200 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, "ok")
		})
	}
	m.Serve(mesh.Config{Service: "echo"}, stall())
	m.Serve(mesh.Config{Service: "echo"}, stall())
	m.Serve(mesh.Config{Service: "echo"}, stall())
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 3)
	hc := client.NewClient("echo")

	p99 := func(path string) time.Duration {
		var d []time.Duration
		for range 200 {
			start := time.Now()
			if _, err := get(hc, "http://echo"+path); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		t.Logf("%s: p50 %v p90 %v p95 %v max %v", path, d[len(d)/2], d[len(d)*90/100], d[len(d)*95/100], d[len(d)-1])
		return d[len(d)*99/100]
	}
	plain, hedged := p99("/plain"), p99("/hedged")
	t.Logf("p99 without hedging %v, with a 20ms hedge %v", plain, hedged)
	if hedged > plain/2 {
		t.Errorf("hedging did not cut the tail: p99 %v hedged vs %v plain", hedged, plain)
	}
}
